//! The `pcsim` binary: parse arguments, call the library, map errors to exit codes (0 ok, 1 check failed,
//! 2 bad input or unusable host, 130 interrupted).

use clap::Parser;

fn main() {
    let cli = pcsim::cli::Cli::parse();
    if let Err(f) = pcsim::cli::run(cli) {
        eprintln!("pcsim: error: {}", f.msg);
        std::process::exit(f.code);
    }
}
