//! Output files that appear whole or not at all: written to a temporary file beside the target and
//! renamed into place on [`AtomicFile::commit`]; dropped without commit, the temporary is removed.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file being written; invisible under its final name until committed.
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates `.<name>.tmp-<pid>` in the target's folder.
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(Error::file(target, "its folder does not exist"));
        }
        let name = target
            .file_name()
            .ok_or_else(|| Error::file(target, "not a file name"))?
            .to_string_lossy();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::file(&tmp, format!("cannot create: {e}")))?;
        Ok(AtomicFile {
            file: Some(file),
            tmp,
            target: target.to_path_buf(),
        })
    }

    fn io<T>(&self, r: std::io::Result<T>) -> Result<T> {
        r.map_err(|e| Error::file(&self.target, format!("write failed: {e}")))
    }

    fn handle(&mut self) -> &mut File {
        self.file.as_mut().expect("file is open until commit")
    }

    /// Appends bytes at the current position.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let r = self.handle().write_all(bytes);
        self.io(r)
    }

    /// Writes bytes at an absolute offset.
    pub fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        let f = self.handle();
        let r = f
            .seek(SeekFrom::Start(offset))
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
        self.io(r)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
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
        }
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
