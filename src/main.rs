//! The `pcsim` binary: parse arguments, call the library, map errors to exit codes (0 ok, 1 check failed,
//! 2 bad input or unusable host, 130 interrupted).

use clap::Parser;

/// Counts heap bytes for `pcsim bench`'s measuring child only (`count_allocations`); elsewhere it forwards to the
/// system allocator after one relaxed load.
#[global_allocator]
static ALLOC: pcsim::bench::CountingAlloc = pcsim::bench::CountingAlloc;

fn main() {
    pcsim::bench::count_allocations(false);
    // Die quietly on a closed pipe (`pcsim check ... | head`), like other command-line tools.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = pcsim::cli::Cli::parse();
    if let Err(f) = pcsim::cli::run(cli) {
        eprintln!("pcsim: error: {}", f.msg);
        std::process::exit(f.code);
    }
}
