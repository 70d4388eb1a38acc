//! Output files that appear whole or not at all: written to a temporary file beside the target and
//! renamed into place on [`AtomicFile::commit`]; dropped without commit, the temporary is removed.
//! An output folder changes as a unit the same way ([`StagedFolder`]): the whole result set is
//! written into a sibling temporary folder and swapped in at the end, under a lock that keeps a
//! second process out. Every temporary is registered while it exists, so Ctrl-C removes them all
//! ([`install_interrupt_handler`], exit 130); the temporaries a killed process left (named with
//! its process id) are removed by the next writer into the same place.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Temporary files and folders that exist now and must not outlive the process.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

fn register(p: &Path) {
    pending().push(p.to_path_buf());
}

fn deregister(p: &Path) {
    pending().retain(|q| q != p);
}

fn remove_path(p: &Path) {
    let _ = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
}

/// On Ctrl-C (SIGINT, or the console's on Windows): remove every registered temporary, say so,
/// and exit with [`EXIT_INTERRUPTED`]; what was complete before stays as it was.
pub fn install_interrupt_handler() {
    let r = ctrlc::set_handler(|| {
        let paths = std::mem::take(&mut *pending());
        for p in paths.iter().rev() {
            remove_path(p);
        }
        eprintln!(
            "interrupted: removed {} temporary file(s) or folder(s); earlier outputs are unchanged",
            paths.len()
        );
        std::process::exit(EXIT_INTERRUPTED);
    });
    if let Err(e) = r {
        log::warn!("cannot install the Ctrl-C handler: {e}");
    }
}

/// Whether process `pid` is running: `/proc/<pid>` where there is a /proc; elsewhere every
/// process counts as running, so nothing of another process is ever removed there.
fn alive(pid: u32) -> bool {
    pid == std::process::id()
        || !Path::new("/proc/self").exists()
        || Path::new("/proc").join(pid.to_string()).exists()
}

/// The folder a target lives in and its file name.
fn parent_and_name(target: &Path) -> Result<(PathBuf, String)> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| Error::file(target, "not a file name"))?
        .to_string_lossy()
        .into_owned();
    Ok((dir, name))
}

/// Removes `.<name>.<kind>-<pid>` entries of `dir` whose process is gone (a run killed before it
/// could clean up), for each kind in `kinds`.
fn remove_stale(dir: &Path, name: &str, kinds: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let file = file.to_string_lossy();
        for kind in kinds {
            let prefix = format!(".{name}.{kind}-");
            let pid = file
                .strip_prefix(&prefix)
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid {
                if !alive(pid) {
                    log::info!("removing {} (left by process {pid})", e.path().display());
                    remove_path(&e.path());
                }
            }
        }
    }
}

/// A file being written; invisible under its final name until committed.
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates `.<name>.tmp-<pid>` in the target's folder (removing those of dead processes).
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let (dir, name) = parent_and_name(target)?;
        if !dir.is_dir() {
            return Err(Error::file(target, "its folder does not exist"));
        }
        remove_stale(&dir, &name, &["tmp"]);
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::file(&tmp, format!("cannot create: {e}")))?;
        register(&tmp);
        Ok(AtomicFile {
            file: Some(file),
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// Counts `n` bytes against the injected disk size of `VENTRAL_FAULT_DISK_BYTES` (the
    /// fault tests' full disk: every write past that many bytes in this process fails as a full
    /// disk does); without the variable, nothing.
    fn spend(n: usize) -> std::io::Result<()> {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::OnceLock;
        static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
        static USED: AtomicU64 = AtomicU64::new(0);
        let limit = LIMIT.get_or_init(|| {
            std::env::var("VENTRAL_FAULT_DISK_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
        });
        match limit {
            Some(l) if USED.fetch_add(n as u64, Ordering::Relaxed) + n as u64 > *l => Err(
                std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device"),
            ),
            _ => Ok(()),
        }
    }

    fn io<T>(&self, r: std::io::Result<T>) -> Result<T> {
        r.map_err(|e| Error::file(&self.target, format!("write failed: {e}")))
    }

    fn handle(&mut self) -> &mut File {
        self.file.as_mut().expect("file is open until commit")
    }

    /// Appends bytes at the current position.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let r = Self::spend(bytes.len()).and_then(|_| self.handle().write_all(bytes));
        self.io(r)
    }

    /// Writes bytes at an absolute offset.
    pub fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        let f = self.handle();
        let r = Self::spend(bytes.len())
            .and_then(|_| f.seek(SeekFrom::Start(offset)))
            .and_then(|_| f.write_all(bytes));
        self.io(r)
    }

    /// Reads `buf.len()` bytes at an absolute offset (of what was written so far).
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let f = self.handle();
        let r = f
            .seek(SeekFrom::Start(offset))
            .and_then(|_| f.read_exact(buf));
        self.io(r)
    }

    /// Sets the file length (sparse zeros past the end).
    pub fn set_len(&mut self, len: u64) -> Result<()> {
        let r = self.handle().set_len(len);
        self.io(r)
    }

    /// Flushes, syncs and renames into place.
    pub fn commit(mut self) -> Result<()> {
        let f = self.file.take().expect("committed once");
        self.io(f.sync_all())?;
        drop(f);
        let r = std::fs::rename(&self.tmp, &self.target);
        if r.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        deregister(&self.tmp);
        self.io(r)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Self::spend(buf.len())?;
        self.handle().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.handle().flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.handle().seek(pos)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
            deregister(&self.tmp);
        }
    }
}

/// An output folder being written: `.<name>.partial-<pid>` beside the target, under the lock
/// `.<name>.lock`. [`StagedFolder::commit`] swaps it in (the previous folder is kept until the
/// new one is in place, then removed); dropped without commit, it is removed and the target is
/// as it was.
pub struct StagedFolder {
    target: PathBuf,
    staging: PathBuf,
    lock: PathBuf,
    done: bool,
}

impl StagedFolder {
    /// Takes the lock (refusing while another live process holds it), removes what killed runs
    /// left, and creates the empty staging folder. An existing target must be a folder of
    /// ventral's (it holds `manifest.json`) or empty: it will be replaced as a whole.
    pub fn begin(target: &Path) -> Result<StagedFolder> {
        let (dir, name) = parent_and_name(target)?;
        if target.exists() {
            let ours = target.join("manifest.json").is_file();
            let empty = std::fs::read_dir(target).is_ok_and(|mut d| d.next().is_none());
            if !target.is_dir() || !(ours || empty) {
                return Err(Error::file(
                    target,
                    "exists and is not a ventral output folder (no manifest.json); the results replace the whole folder, so give a new or empty one",
                ));
            }
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::file(&dir, format!("cannot create the output's parent: {e}")))?;
        let lock = dir.join(format!(".{name}.lock"));
        let me = std::process::id();
        loop {
            match File::options().write(true).create_new(true).open(&lock) {
                Ok(mut f) => {
                    let _ = write!(f, "{me}");
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&lock)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if alive(pid) => {
                            return Err(Error::file(
                                target,
                                format!("another ventral process (pid {pid}) is writing this folder; wait for it to finish or give another output folder"),
                            ))
                        }
                        // Left by a killed run (or half-written): take it over.
                        _ => {
                            let _ = std::fs::remove_file(&lock);
                        }
                    }
                }
                Err(e) => return Err(Error::file(&lock, format!("cannot create the lock: {e}"))),
            }
        }
        register(&lock);
        remove_stale(&dir, &name, &["partial", "old"]);
        let staging = dir.join(format!(".{name}.partial-{me}"));
        remove_path(&staging);
        let staged = StagedFolder {
            target: target.to_path_buf(),
            staging,
            lock,
            done: false,
        };
        std::fs::create_dir(&staged.staging)
            .map_err(|e| Error::file(&staged.staging, format!("cannot create: {e}")))?;
        register(&staged.staging);
        Ok(staged)
    }

    /// Where to write the results.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Puts the staged folder in place of the target.
    pub fn commit(mut self) -> Result<()> {
        let old =
            self.staging
                .with_file_name(format!(".{}.old-{}", self.name(), std::process::id()));
        let had = self.target.exists();
        if had {
            std::fs::rename(&self.target, &old).map_err(|e| {
                Error::file(
                    &self.target,
                    format!("cannot move the previous results aside: {e}"),
                )
            })?;
            register(&old);
        }
        if let Err(e) = std::fs::rename(&self.staging, &self.target) {
            if had {
                let _ = std::fs::rename(&old, &self.target);
                deregister(&old);
            }
            return Err(Error::file(
                &self.target,
                format!("cannot put the new results in place: {e}"),
            ));
        }
        deregister(&self.staging);
        self.done = true;
        if had {
            remove_path(&old);
            deregister(&old);
        }
        Ok(())
    }

    fn name(&self) -> String {
        self.target
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }
}

impl Drop for StagedFolder {
    fn drop(&mut self) {
        if !self.done {
            remove_path(&self.staging);
            deregister(&self.staging);
        }
        let _ = std::fs::remove_file(&self.lock);
        deregister(&self.lock);
    }
}

/// Writes a whole file atomically (temporary name, then rename).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

/// A CSV field, quoted when it holds a comma, quote or newline.
pub fn csv_field(x: &str) -> String {
    if x.contains([',', '"', '\n']) {
        format!("\"{}\"", x.replace('"', "\"\""))
    } else {
        x.to_string()
    }
}

/// A CSV number; empty when absent.
pub fn csv_number(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("ventral-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.bin");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let mut f = AtomicFile::create(&target).unwrap();
        f.set_len(6).unwrap();
        f.write_at(2, b"ok").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"\0\0ok\0\0");
        std::fs::remove_dir_all(&dir).ok();
        assert!(AtomicFile::create(&dir.join("x")).is_err());
    }
}
