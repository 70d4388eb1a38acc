//! The download layer of `ventral::pretrained` against a bounded local HTTP server (no internet).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use ventral::io::download::download;

/// Serves `responses` (raw bytes) in order, one a request, to whatever path is asked, counting
/// the requests; returns the base URL.
fn serve_all(responses: Vec<Vec<u8>>) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for (s, response) in l.incoming().zip(responses) {
            let mut s = s.unwrap();
            // Read the whole request head before answering: closing a socket with unread bytes
            // resets the connection, and the client could see that before the body.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            c.fetch_add(1, Ordering::SeqCst);
            let _ = s.write_all(&response);
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    });
    (base, count)
}

/// Serves at most `n` requests with `response`, counting them.
fn serve(n: usize, response: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    serve_all(vec![response; n])
}

/// Serves `responses` in order.
fn serve_seq(responses: Vec<Vec<u8>>) -> String {
    serve_all(responses).0
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    r.extend_from_slice(body);
    r
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ventral-pretrained-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn leftovers(d: &std::path::Path) -> usize {
    std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0)
}

#[test]
fn fresh_download_then_cache_hit_without_a_request() {
    let body = b"fake checkpoint bytes".to_vec();
    let sha = hex(&body);
    let (base, count) = serve(2, ok(&body));
    let d = dir("fresh");
    let dest = d.join("m").join("w.pth");
    let url = format!("{base}/models/w.pth");
    assert_eq!(download(&url, &dest, Some(&sha[..8]), true).unwrap(), sha);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(download(&url, &dest, Some(&sha[..8]), true).unwrap(), sha);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(leftovers(dest.parent().unwrap()), 1);
}

#[test]
fn redirects_are_followed() {
    // The hub answers a file URL with a redirect to its storage host.
    let body = b"redirected checkpoint".to_vec();
    let storage = serve_seq(vec![ok(&body)]);
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: {storage}/blob/w.pth\r\nContent-Length: 0\r\n\r\n"
    );
    let hub = serve_seq(vec![redirect.into_bytes()]);
    let d = dir("redirect");
    let dest = d.join("w.pth");
    let sha = download(&format!("{hub}/resolve/main/w.pth"), &dest, None, true).unwrap();
    assert_eq!(sha, hex(&body));
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}

#[test]
fn checksum_mismatch_keeps_nothing_and_names_both_hashes() {
    let body = b"other bytes".to_vec();
    let (base, _) = serve(1, ok(&body));
    let d = dir("mismatch");
    let dest = d.join("w.pth");
    let e = download(&format!("{base}/w.pth"), &dest, Some("00000000"), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("00000000") && e.contains(&hex(&body)), "{e}");
    assert_eq!(leftovers(&d), 0);
}

#[test]
fn cut_transfer_leaves_no_file() {
    let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
    r.extend_from_slice(&[7u8; 100]);
    let (base, _) = serve(1, r);
    let d = dir("cut");
    let dest = d.join("w.pth");
    let e = download(&format!("{base}/w.pth"), &dest, None, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("100 of 1000"), "{e}");
    assert_eq!(leftovers(&d), 0);
}

#[test]
fn http_404_names_url_and_status() {
    let (base, _) = serve(
        1,
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    );
    let d = dir("404");
    let url = format!("{base}/missing.pth");
    let e = download(&url, &d.join("w.pth"), None, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&url) && e.contains("404"), "{e}");
    assert_eq!(leftovers(&d), 0);
}

#[test]
fn unreachable_server_says_where_to_place_the_file() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir("unreachable");
    let dest = d.join("w.pth");
    let url = format!("http://127.0.0.1:{port}/w.pth");
    let e = download(&url, &dest, None, true).unwrap_err().to_string();
    assert!(
        e.contains(&url) && e.contains(&dest.display().to_string()),
        "{e}"
    );
}

#[test]
fn an_unwritable_cache_is_a_clear_error() {
    // A cache folder that cannot be made (a file stands in its place) fails even for root, where
    // read-only permissions do not bind.
    let (base, _) = serve(1, ok(b"x"));
    let d = dir("unwritable");
    std::fs::create_dir_all(&d).unwrap();
    let blocker = d.join("cache");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let dest = blocker.join("w.pth");
    let e = download(&format!("{base}/w.pth"), &dest, None, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot"), "{e}");
    assert!(!dest.exists());
}

/// `weights = "pretrained"` in an analysis file: fetched through the mirror into the cache,
/// converted, run with the checkpoint's own preprocessing (no `[preprocess]` table), and the
/// manifest records the URL, variant, SHA-256 and that preprocessing.
#[test]
fn an_analysis_with_pretrained_weights_records_its_source() {
    use ventral::weights::{WeightSource, Weights};
    let d = dir("analysis");
    std::fs::create_dir_all(&d).unwrap();
    let graph = ventral::models::build("timm/deit_tiny_patch16_224").unwrap();
    let w = Weights::random(&graph.specs, 7);
    let file = d.join("model.safetensors");
    w.save(&file, &Default::default()).unwrap();
    let body = std::fs::read(&file).unwrap();
    let (base, count) = serve(1, ok(&body));
    let toml = r#"
[stimuli]
procedural = "shapes"
size = 64
[[model]]
name = "timm/deit_tiny_patch16_224"
weights = "pretrained"
layers = ["blocks.0", "head"]
batch = 8
[[brain]]
region = "sim"
[brain.simulated]
subjects = 2
noise = 0.4
seed = 1
[compare]
methods = ["spearman"]
permutations = 10
bootstrap = 0
noise_ceiling = false
[output]
folder = "out"
figures = false
"#;
    std::fs::write(d.join("a.toml"), toml).unwrap();
    // Runs the analysis through the mirror and returns its manifest.
    let run = || -> serde_json::Value {
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_ventral"))
            .args(["run", "--quiet", "--device", "native"])
            .arg(d.join("a.toml"))
            .env("VENTRAL_CACHE", d.join("cache"))
            .env("VENTRAL_PRETRAINED_MIRROR", &base)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let text = std::fs::read_to_string(d.join("out/manifest.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let manifest = run();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let m = &manifest["models"][0];
    assert_eq!(m["pretrained"]["variant"], "default");
    assert_eq!(m["pretrained"]["sha256"], hex(&body));
    assert!(
        m["pretrained"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/timm/deit_tiny_patch16_224")),
        "{m}"
    );
    // DeiT's own transform: bicubic, ImageNet statistics, crop_pct 0.9 of 224.
    assert_eq!(m["preprocess"]["preset"], "timm", "{m}");
    assert_eq!(m["preprocess"]["crop"], 224, "{m}");
    assert_eq!(m["input_size"], 224);
    // A second run finds the converted copy: no request, and the raw download is not even read
    // (its recorded SHA-256 comes from the converted file's header).
    let cached = d.join("cache/timm--deit_tiny_patch16_224");
    std::fs::remove_file(cached.join("deit_tiny_patch16_224.fb_in1k.safetensors")).unwrap();
    std::fs::remove_dir_all(d.join("out")).unwrap();
    let manifest2 = run();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(manifest2["models"][0]["pretrained"], m["pretrained"]);
    // The converted copy holds the same weights.
    let converted = cached.join("default.safetensors");
    let back = Weights::load(&converted, &graph.specs).unwrap();
    assert_eq!(back.tensors(), w.tensors());
    assert!(matches!(back.source, WeightSource::File { .. }));
    std::fs::remove_dir_all(&d).unwrap();
}
