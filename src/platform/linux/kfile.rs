//! Reading the files the kernel generates (/proc, /sys) in as few system
//! calls as their size allows.
//!
//! `std::fs::read` sizes its buffer by the file's length, which procfs and
//! sysfs report as 0 or 4096 whatever they hold, then grows it from 32
//! bytes: /proc/self/mountinfo took a statx and eight reads. Here one read
//! into a buffer that usually fits, and one more that returns 0 (a
//! seq_file may stop short of the buffer, so EOF is only ever taken from a
//! 0-byte read), are the common case.
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

/// What most of these files fit in: a few dozen mountinfo lines, a
/// /proc/partitions of dozens of devices, any sysfs attribute (one page).
const FIRST: usize = 16 * 1024;

/// A file seen only through `read(2)`: `File::read_to_end` would first
/// ask statx and lseek for a size that procfs and sysfs do not know.
struct Plain(File);

impl Read for Plain {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

/// The whole file, as bytes: read into a buffer that usually fits, without
/// zeroing it first (std's `read_to_end` tracks what is initialised).
pub fn read(path: impl AsRef<Path>) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(FIRST);
    Plain(File::open(path)?).read_to_end(&mut buf)?;
    Ok(buf)
}

/// A sysfs attribute: the kernel formats it whole into one page and hands
/// it out in one read, so a read that does not fill the buffer is the
/// whole of it (no second read for EOF, unlike procfs's seq_files).
pub fn read_attr(path: impl AsRef<Path>) -> std::io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 4096];
    let n = loop {
        match file.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            r => break r?,
        }
    };
    buf.truncate(n);
    if n == 4096 {
        Plain(file).read_to_end(&mut buf)?;
    }
    Ok(buf)
}

/// The whole file as UTF-8 text; `InvalidData` otherwise, as
/// `std::fs::read_to_string`.
pub fn read_string(path: impl AsRef<Path>) -> std::io::Result<String> {
    String::from_utf8(read(path)?).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_small_and_large_files_whole() {
        let mounts = read("/proc/self/mountinfo").unwrap();
        assert!(mounts.ends_with(b"\n"));
        assert_eq!(mounts, std::fs::read("/proc/self/mountinfo").unwrap());
        let dir = std::env::temp_dir().join(format!("mount_md-kfile-{}", std::process::id()));
        let big: Vec<u8> = (0..3 * FIRST + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&dir, &big).unwrap();
        let got = read(&dir);
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(got.unwrap(), big);
        assert!(read("/nonexistent/x").is_err());
        assert_eq!(read_string("/proc/sys/kernel/ostype").unwrap(), "Linux\n");
        let dev =
            std::fs::read("/sys/kernel/mm/transparent_hugepage/enabled").or_else(|_| std::fs::read("/sys/power/state"));
        if let Ok(want) = dev {
            let path = if std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
                "/sys/kernel/mm/transparent_hugepage/enabled"
            } else {
                "/sys/power/state"
            };
            assert_eq!(read_attr(path).unwrap(), want);
        }
    }
}
