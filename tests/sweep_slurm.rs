//! Issue 14's cluster path, run for real: a single-node Slurm (munged, slurmctld and slurmd started on localhost
//! with their own socket, ports, state and logs in a temporary directory, stopped after) runs
//! examples/slurm/sweep.sbatch as an array job of 3 shards and a merge job with `--dependency=afterok`, and the
//! merged results.csv equals an unsharded sweep's. Skips, saying why, when not root or when Slurm or munge is
//! missing (Debian: apt-get install slurm-wlm munge).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A free TCP port on localhost (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The daemons this test started, stopped (by their pid files) when it ends, even on failure.
struct Daemons {
    dir: PathBuf,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for name in ["slurmd", "slurmctld", "munged"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(format!("{name}.pid"))) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn slurm_conf(d: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into());
    format!(
        "ClusterName=pcsimtest\nSlurmctldHost=localhost\nSlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\n\
         AuthInfo=socket={d}/munge.sock\nCredType=cred/munge\nSlurmctldPort={}\nSlurmdPort={}\n\
         StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\nSlurmctldPidFile={d}/slurmctld.pid\n\
         SlurmdPidFile={d}/slurmd.pid\nSlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd.log\n\
         ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSelectType=select/cons_tres\n\
         SelectTypeParameters=CR_CPU\nSchedulerType=sched/backfill\nReturnToService=2\nMpiDefault=none\n\
         JobCompType=jobcomp/none\nAccountingStorageType=accounting_storage/none\n\
         JobAcctGatherType=jobacct_gather/none\n\
         NodeName=localhost NodeHostname={} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN\n\
         PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n",
        free_port(),
        free_port(),
        host.trim(),
        d = d.display()
    )
}

/// A reader re-reading a 16 MiB file three times.
const REREAD: &str = r#"Scenario(
    name: "reread",
    machine: (memory: "1g", cpus: 2, memcg_limit: "64m"),
    devices: [(name: "disk0", read_ahead_kb: 128)],
    files: [(name: "data", size: "16m")],
    tasks: [(name: "reader", ops: [Open(file: "data"), Generate(fd: "data", syscall: Read, block: "64k", count: 768)])],
)
"#;

#[test]
fn slurm_array_shards_merge_to_the_unsharded_sweep() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: starting slurmctld, slurmd and munged on localhost needs root");
        return;
    }
    let tools = ["munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue"];
    if let Some(missing) = tools.iter().find(|t| which(t).is_none()) {
        eprintln!("SKIPPED: {missing} is not installed (Debian: apt-get install slurm-wlm munge)");
        return;
    }
    if !Path::new("/etc/munge/munge.key").is_file() {
        eprintln!("SKIPPED: /etc/munge/munge.key is missing (Debian creates it with the munge package)");
        return;
    }
    let tmp = tempfile::Builder::new().prefix("pcsim-slurm").tempdir().unwrap();
    let d = tmp.path().to_path_buf();
    std::fs::create_dir_all(d.join("state")).unwrap();
    std::fs::create_dir_all(d.join("spool")).unwrap();
    let conf = d.join("slurm.conf");
    std::fs::write(&conf, slurm_conf(&d)).unwrap();
    let _daemons = Daemons { dir: d.clone() };
    let s = |p: &Path| p.display().to_string();
    run(Command::new("munged").args([
        "-f".to_string(),
        format!("--socket={}", s(&d.join("munge.sock"))),
        "--key-file=/etc/munge/munge.key".into(),
        format!("--log-file={}", s(&d.join("munged.log"))),
        format!("--pid-file={}", s(&d.join("munged.pid"))),
        format!("--seed-file={}", s(&d.join("munged.seed"))),
    ]));
    let slurm = |prog: &str| {
        let mut c = Command::new(prog);
        c.env("SLURM_CONF", &conf).current_dir(&d);
        c
    };
    run(slurm("slurmctld").arg("-i"));
    run(slurm("slurmd").args(["-N", "localhost"]));
    let mut up = false;
    for _ in 0..60 {
        let out = slurm("sinfo").args(["-h", "-o", "%t"]).output().unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "idle" {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    if !up {
        let log = std::fs::read_to_string(d.join("slurmctld.log")).unwrap_or_default();
        eprintln!("SKIPPED: the single-node Slurm did not come up within 15 s; slurmctld.log:\n{log}");
        return;
    }
    // The sweep, as docs/SWEEP.md's Slurm instructions give it.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pcsim = env!("CARGO_BIN_EXE_pcsim");
    // A small re-read (cheap in a debug build too); any scenario path works, as for a user.
    let scenario_path = d.join("reread.ron");
    std::fs::write(&scenario_path, REREAD).unwrap();
    let scenario = s(&scenario_path);
    let sets = "--set machine.memcg_limit=16m..64m:x2 --set devices.disk0.read_ahead_kb=32,512";
    let out = d.join("mrc");
    let env = |c: &mut Command| {
        c.env("SCENARIO", &scenario).env("SETS", sets).env("OUT", &out).env("PCSIM", pcsim).env("SEEDS", "1..2");
    };
    let mut array = slurm("sbatch");
    array.args(["--parsable", "--array=0-2", "--export=ALL"]).arg(repo.join("examples/slurm/sweep.sbatch"));
    env(&mut array);
    let jid = run(&mut array);
    let mut merge = slurm("sbatch");
    merge.args([
        "--parsable".to_string(),
        format!("--dependency=afterok:{jid}"),
        "--export=ALL".into(),
        "--wrap".into(),
        format!("{pcsim} sweep-merge {o}.shards/* --out {o}", o = s(&out)),
    ]);
    env(&mut merge);
    let merge_id = run(&mut merge);
    let mut done = false;
    for _ in 0..480 {
        let q = slurm("squeue").args(["-h", "-o", "%i"]).output().unwrap();
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let logs = || {
        let mut all = String::new();
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".out") || n.ends_with(".log") {
                all += &format!("== {n}\n{}\n", std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        all
    };
    assert!(done, "jobs {jid} and {merge_id} still queued after 120 s:\n{}", logs());
    assert!(out.join("results.csv").is_file(), "the merge job wrote no results:\n{}", logs());
    // The unsharded sweep, here.
    let whole = d.join("whole");
    let mut c = Command::new(pcsim);
    c.args(["sweep", &scenario]).args(sets.split(' ')).args(["--seeds", "1..2", "--out", &s(&whole)]);
    c.stdout(Stdio::null());
    run(&mut c);
    let merged = std::fs::read(out.join("results.csv")).unwrap();
    assert_eq!(merged, std::fs::read(whole.join("results.csv")).unwrap(), "Slurm's merged CSV differs");
    assert_eq!(std::fs::read(out.join("results.json")).unwrap(), std::fs::read(whole.join("results.json")).unwrap());
    let shards: Vec<_> = std::fs::read_dir(format!("{}.shards", s(&out))).unwrap().flatten().collect();
    assert_eq!(shards.len(), 3, "one shard per array task");
}
