//! Downloads into the cache: HTTPS (rustls) or plain HTTP through `ureq`, redirects followed,
//! streamed to a temporary name beside the destination, checked, then renamed, so the cache
//! never holds half a file. A file already in place is a cache hit and touches no network.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// `$VENTRAL_CACHE`, else the platform cache dir + `ventral`.
pub fn cache_dir() -> Result<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = env("VENTRAL_CACHE") {
        return Ok(p);
    }
    let base = if cfg!(target_os = "windows") {
        env("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Caches"))
    } else {
        env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("ventral"))
        .ok_or_else(|| Error::Invalid("no cache directory: set VENTRAL_CACHE".into()))
}

/// `url` with its `scheme://host[:port]` replaced by `base`.
pub fn with_base(url: &str, base: &str) -> String {
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    let path = url[after..]
        .find('/')
        .map(|i| &url[after + i..])
        .unwrap_or("/");
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// Downloads `url` to `dest` unless it exists: streamed to a temporary name in the same
/// directory, checked against `sha256_prefix` (the leading hex digits of its SHA-256), then
/// renamed. Returns the SHA-256 of the file. A transfer failure names the URL and where to put
/// the file by hand.
pub fn download(
    url: &str,
    dest: &Path,
    sha256_prefix: Option<&str>,
    quiet: bool,
) -> Result<String> {
    if dest.is_file() {
        return crate::weights::sha256_file(dest);
    }
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::file(dir, format!("cannot create the cache directory: {e}")))?;
    let tmp = dir.join(format!(
        ".{}.part-{}",
        dest.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("download"),
        std::process::id()
    ));
    let result = fetch_to(url, &tmp, quiet)
        .map_err(|e| match e {
            Fetch::Transfer(m) => Error::file(
                url,
                format!(
                    "{m}; without network, download the file elsewhere and place it at {}",
                    dest.display()
                ),
            ),
            Fetch::Status(m) => Error::file(url, m),
            Fetch::Local(e) => e,
        })
        .and_then(|sha| {
            if let Some(p) = sha256_prefix {
                if !sha.starts_with(&p.to_ascii_lowercase()) {
                    return Err(Error::file(url, format!("SHA-256 mismatch: expected a hash starting {p}, got {sha}; the download was deleted")));
                }
            }
            std::fs::rename(&tmp, dest).map_err(|e| {
                Error::file(dest, format!("cannot move the download into place: {e}"))
            })?;
            Ok(sha)
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Why a fetch failed: the network (worth the by-hand hint), the server's answer, or this disk.
enum Fetch {
    Transfer(String),
    Status(String),
    Local(Error),
}

/// GET `url` into `path`, returning the body's SHA-256.
fn fetch_to(url: &str, path: &Path, quiet: bool) -> std::result::Result<String, Fetch> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .user_agent(concat!("ventral/", env!("CARGO_PKG_VERSION")))
        .max_redirects(10)
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| Fetch::Transfer(format!("cannot connect: {e}")))?;
    let status = resp.status();
    if status != 200 {
        return Err(Fetch::Status(format!("HTTP status {status}")));
    }
    let length = resp.body().content_length();
    let bar = if quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(length.unwrap_or(0));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
        bar
    };
    let mut out = std::fs::File::create(path)
        .map_err(|e| Fetch::Local(Error::file(path, format!("cannot write the download: {e}"))))?;
    let mut reader = resp.body_mut().as_reader();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    let of = |got: u64| match length {
        Some(l) => format!("got {got} of {l} bytes"),
        None => format!("got {got} bytes"),
    };
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| Fetch::Transfer(format!("transfer cut ({}): {e}", of(got))))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| {
            Fetch::Local(Error::file(path, format!("cannot write the download: {e}")))
        })?;
        got += n as u64;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    if length.is_some_and(|l| got != l) {
        return Err(Fetch::Transfer(format!("transfer cut ({})", of(got))));
    }
    out.sync_all()
        .map_err(|e| Fetch::Local(Error::file(path, format!("cannot write the download: {e}"))))?;
    Ok(crate::weights::hex(&hasher.finalize()))
}
