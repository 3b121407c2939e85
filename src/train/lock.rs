//! Claiming a cell, so that several runners on one results folder (several processes, Slurm
//! tasks, machines sharing a filesystem) run each cell once.
//!
//! A runner claims a cell by creating `<trial>/lock` exclusively (O_EXCL), writing its host,
//! pid and a heartbeat time. While the cell runs, a thread refreshes the heartbeat. A lock
//! whose owner is gone (same host and the pid no longer exists, or no heartbeat for
//! `STALE_AFTER`) is taken over.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// A lock with no heartbeat for this long belongs to a dead runner.
pub const STALE_AFTER: Duration = Duration::from_secs(300);
const HEARTBEAT: Duration = Duration::from_secs(20);

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A held claim; dropping it stops the heartbeat and removes the lock file.
pub struct CellLock {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    heartbeat: Option<std::thread::JoinHandle<()>>,
}

impl Drop for CellLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.heartbeat.take() {
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn contents() -> String {
    format!("host = {:?}\npid = {}\nheartbeat = {}\n", hostname(), std::process::id(), now_s())
}

/// Who holds a lock, as written in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    pub heartbeat: u64,
}

pub fn read_owner(path: &Path) -> Option<Owner> {
    let t: toml::Table = std::fs::read_to_string(path).ok()?.parse().ok()?;
    Some(Owner {
        host: t.get("host")?.as_str()?.to_string(),
        pid: t.get("pid")?.as_integer()? as u32,
        heartbeat: t.get("heartbeat")?.as_integer()? as u64,
    })
}

fn is_stale(owner: &Option<Owner>) -> bool {
    match owner {
        // Unreadable: a claim being written right now, or garbage; only age decides.
        None => false,
        Some(o) => {
            let dead_here = o.host == hostname() && !Path::new(&format!("/proc/{}", o.pid)).exists();
            dead_here || now_s().saturating_sub(o.heartbeat) > STALE_AFTER.as_secs()
        }
    }
}

/// Try to claim the cell in `dir`. `Ok(None)` means a live runner holds it.
pub fn try_claim(dir: &Path) -> Result<Option<CellLock>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("lock");
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(contents().as_bytes())?;
                f.sync_all()?;
                let stop = Arc::new(AtomicBool::new(false));
                let (p, s) = (path.clone(), stop.clone());
                let heartbeat = std::thread::spawn(move || {
                    let mut waited = Duration::ZERO;
                    while !s.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(200));
                        waited += Duration::from_millis(200);
                        if waited >= HEARTBEAT {
                            waited = Duration::ZERO;
                            let _ = std::fs::write(&p, contents());
                        }
                    }
                });
                return Ok(Some(CellLock { path, stop, heartbeat: Some(heartbeat) }));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if is_stale(&read_owner(&path)) {
                    // The owner died: take the claim over (one retry).
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                return Ok(None);
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    Ok(None)
}
