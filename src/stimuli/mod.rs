//! Stimuli: image folders, CSV manifests, preprocessed tensors and procedural sets, decoded to RGB
//! and preprocessed exactly as the reference pipelines do.

pub mod preprocess;
pub mod procedural;

use std::path::{Path, PathBuf};

pub use preprocess::{
    resize, resize_bilinear, Filter, Normalize, Preprocess, PreprocessConfig, Rgb8,
};
pub use procedural::{generate, ProceduralSet};

use crate::arrays::NpyReader;
use crate::error::{Error, Result};
use crate::weights::{sha256_bytes, sha256_file};

/// File extensions read from an image folder.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// The images in `dir`, sorted by file name; an error when there are none.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot read folder: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        // A FIFO, socket or device named like an image would block or never end: only regular
        // files (or links to them) are images.
        .filter(|p| {
            let regular = p.is_file();
            if !regular {
                log::warn!("{}: not a regular file; skipped", p.display());
            }
            regular
        })
        .collect();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    if files.is_empty() {
        return Err(Error::file(
            dir,
            format!("no images ({}) in this folder", IMAGE_EXTENSIONS.join(", ")),
        ));
    }
    Ok(files)
}

/// Decodes an image file to 8-bit RGB, as PIL's `Image.open(p).convert("RGB")`: grayscale is
/// replicated, alpha dropped, 16-bit samples scaled to 8 bits.
pub fn load_rgb(path: &Path) -> Result<Rgb8> {
    if path.exists() && !path.is_file() {
        return Err(Error::file(path, "not a regular file"));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(&bytes) {
        // The decoder fills a cut-off scan with invented pixels; PIL refuses such a file.
        return Err(Error::file(
            path,
            "truncated JPEG: no end-of-image marker after the last scan",
        ));
    }
    let mut reader = reader;
    reader.limits(image_limits());
    let img = reader
        .decode()
        .map_err(|e| Error::file(path, format!("cannot decode image: {e}")))?;
    let rgb = img.to_rgb8();
    Ok(Rgb8 {
        width: rgb.width() as usize,
        height: rgb.height() as usize,
        data: rgb.into_raw(),
    })
}

/// The largest image a stimulus may be: 16,384 pixels a side and 1 GiB decoded. A few hundred
/// bytes of JPEG can declare 65,000 × 4,000 pixels and take seconds to decode into invented
/// content (found by the fuzz campaign, RELIABILITY.md); real stimuli are far smaller.
pub const MAX_IMAGE_SIDE: u32 = 16_384;

fn image_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(1 << 30);
    limits
}

/// Whether a JPEG stream has its end-of-image marker (FF D9) after its last start-of-scan
/// (FF DA). Inside entropy-coded data every FF byte is stuffed (FF 00), so neither marker can
/// appear there: a file cut anywhere in or before its last scan has no FF D9 after it.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let marker = |m: u8| bytes.windows(2).rposition(|w| w[0] == 0xFF && w[1] == m);
    match (marker(0xDA), marker(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        _ => false,
    }
}

/// Where a stimulus set's images are.
enum Images {
    Files(Vec<PathBuf>),
    Generated(Vec<Rgb8>),
    /// Already preprocessed: float32 `[N, C, H, W]`.
    Tensor(NpyReader),
}

/// An ordered stimulus set with names and label columns.
pub struct StimulusSet {
    /// Where it came from, for provenance.
    pub source: String,
    /// One name per stimulus (file name, or the procedural name).
    pub names: Vec<String>,
    /// Label column names (a manifest's other columns; `category`, `variant`, `magnitude` for
    /// procedural sets).
    pub label_columns: Vec<String>,
    /// `[stimulus][column]`.
    pub labels: Vec<Vec<String>>,
    images: Images,
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

impl StimulusSet {
    /// Every image in a folder, sorted by file name.
    pub fn folder(dir: &Path) -> Result<StimulusSet> {
        let files = list_images(dir)?;
        Ok(StimulusSet {
            source: format!("folder {}", dir.display()),
            names: files.iter().map(|f| file_name(f)).collect(),
            label_columns: Vec::new(),
            labels: vec![Vec::new(); files.len()],
            images: Images::Files(files),
        })
    }

    /// A CSV manifest: a `file` column (paths relative to the CSV's folder) in stimulus order;
    /// every other column is a label.
    pub fn manifest(csv: &Path) -> Result<StimulusSet> {
        let text = std::fs::read_to_string(csv)
            .map_err(|e| Error::file(csv, format!("cannot read: {e}")))?;
        let rows = parse_csv(&text).map_err(|e| Error::file(csv, e))?;
        let Some((header, rows)) = rows.split_first() else {
            return Err(Error::file(csv, "empty manifest"));
        };
        let Some(col) = header.iter().position(|h| h.trim() == "file") else {
            return Err(Error::file(
                csv,
                format!("no 'file' column in the header {header:?}"),
            ));
        };
        if rows.is_empty() {
            return Err(Error::file(csv, "the manifest lists no stimuli"));
        }
        let base = csv.parent().unwrap_or(Path::new("."));
        let mut files = Vec::with_capacity(rows.len());
        let mut labels = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            if r.len() != header.len() {
                return Err(Error::file(
                    csv,
                    format!(
                        "line {}: {} fields, the header has {}",
                        i + 2,
                        r.len(),
                        header.len()
                    ),
                ));
            }
            let f = base.join(r[col].trim());
            if !f.is_file() {
                return Err(Error::file(
                    csv,
                    format!("line {}: image '{}' does not exist", i + 2, f.display()),
                ));
            }
            files.push(f);
            labels.push(
                r.iter()
                    .enumerate()
                    .filter(|&(c, _)| c != col)
                    .map(|(_, v)| v.clone())
                    .collect(),
            );
        }
        Ok(StimulusSet {
            source: format!("manifest {}", csv.display()),
            names: rows.iter().map(|r| r[col].trim().to_string()).collect(),
            label_columns: header
                .iter()
                .enumerate()
                .filter(|&(c, _)| c != col)
                .map(|(_, h)| h.trim().to_string())
                .collect(),
            labels,
            images: Images::Files(files),
        })
    }

    /// A procedural set drawn at `size` pixels.
    pub fn procedural(set: ProceduralSet, size: usize, seed: u64) -> Result<StimulusSet> {
        let g = generate(set, size, seed)?;
        Ok(StimulusSet {
            source: format!("procedural {set} ({size} px, seed {seed})"),
            names: g.iter().map(|s| s.name.clone()).collect(),
            label_columns: vec!["category".into(), "variant".into(), "magnitude".into()],
            labels: g
                .iter()
                .map(|s| {
                    vec![
                        s.category.clone(),
                        s.variant.clone(),
                        s.magnitude.to_string(),
                    ]
                })
                .collect(),
            images: Images::Generated(g.into_iter().map(|s| s.image).collect()),
        })
    }

    /// Images already in memory (decoded from a `.mat` file, flipped, cropped), with one name
    /// each; `source` says where they came from.
    pub fn images(source: String, names: Vec<String>, images: Vec<Rgb8>) -> Result<StimulusSet> {
        if names.len() != images.len() {
            return Err(Error::Invalid(format!(
                "{source}: {} names for {} images",
                names.len(),
                images.len()
            )));
        }
        Ok(StimulusSet {
            source,
            label_columns: Vec::new(),
            labels: vec![Vec::new(); names.len()],
            names,
            images: Images::Generated(images),
        })
    }

    /// The image files, for a folder or manifest set.
    pub fn files(&self) -> Option<&[PathBuf]> {
        match &self.images {
            Images::Files(f) => Some(f),
            _ => None,
        }
    }

    /// A preprocessed float32 `[N, C, H, W]` array (.npy), used as it is.
    pub fn tensor(path: &Path, channels: usize) -> Result<StimulusSet> {
        let r = NpyReader::open(path)?;
        let s = r.shape().to_vec();
        if s.len() != 4 || s[1] != channels || s.contains(&0) {
            return Err(Error::file(
                path,
                format!("expected a float32 array [N, {channels}, H, W], got shape {s:?}"),
            ));
        }
        Ok(StimulusSet {
            source: format!("tensor {} sha256:{}", path.display(), sha256_file(path)?),
            names: (0..s[0]).map(|i| format!("{i:05}")).collect(),
            label_columns: Vec::new(),
            labels: vec![Vec::new(); s[0]],
            images: Images::Tensor(r),
        })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// `(H, W)` of a tensor set; `None` for images (their size comes from the preprocessing).
    pub fn tensor_size(&self) -> Option<(usize, usize)> {
        match &self.images {
            Images::Tensor(r) => Some((r.shape()[2], r.shape()[3])),
            _ => None,
        }
    }

    /// The decoded RGB image of stimulus `i` (`None` for a tensor set).
    pub fn image(&self, i: usize) -> Result<Option<Rgb8>> {
        match &self.images {
            Images::Files(f) => load_rgb(&f[i]).map(Some),
            Images::Generated(g) => Ok(Some(g[i].clone())),
            Images::Tensor(_) => Ok(None),
        }
    }

    /// SHA-256 of each stimulus: the file's bytes, or the generated RGB pixels; for a tensor
    /// set, the rows are covered by the file's hash in `source`.
    pub fn hashes(&self) -> Result<Vec<String>> {
        match &self.images {
            Images::Files(f) => f.iter().map(|p| sha256_file(p)).collect(),
            Images::Generated(g) => Ok(g.iter().map(|i| sha256_bytes(&i.data)).collect()),
            Images::Tensor(_) => Ok(vec![String::new(); self.len()]),
        }
    }

    /// Stimuli `lo..hi` as model input `[hi − lo, 3, S, S]`; `pre` is ignored for a tensor set,
    /// whose values are checked for NaN and infinity.
    pub fn batch(&mut self, lo: usize, hi: usize, pre: &Preprocess) -> Result<Vec<f32>> {
        match &mut self.images {
            Images::Tensor(r) => {
                let x = r.read_rows(lo, hi)?;
                if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                    let per: usize = r.shape()[1..].iter().product();
                    return Err(Error::file(
                        r.path(),
                        format!(
                            "non-finite value ({}) in image {} at flat index {}",
                            x[i],
                            lo + i / per,
                            lo * per + i
                        ),
                    ));
                }
                Ok(x)
            }
            Images::Files(files) => {
                let mut out = Vec::new();
                for f in &files[lo..hi] {
                    let img = load_rgb(f)?;
                    out.extend(pre.apply(&img).map_err(|e| Error::file(f, e))?);
                }
                Ok(out)
            }
            Images::Generated(g) => {
                let mut out = Vec::new();
                for img in &g[lo..hi] {
                    out.extend(pre.apply(img)?);
                }
                Ok(out)
            }
        }
    }
}

/// RFC 4180 CSV: comma-separated, double-quoted fields may hold commas, newlines and `""`.
pub fn parse_csv(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += usize::from(c == '\n');
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                line += 1;
                row.push(std::mem::take(&mut field));
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quoted field (line {line})"));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {

    /// A FIFO named like an image is skipped by a folder listing and refused by name when a
    /// manifest points at it (reading it would block forever).
    #[cfg(unix)]
    #[test]
    fn non_regular_files_are_not_images() {
        let dir = std::env::temp_dir().join(format!("ventral-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        image::RgbImage::new(4, 4).save(dir.join("a.png")).unwrap();
        let fifo = dir.join("z.png");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(list_images(&dir).unwrap(), vec![dir.join("a.png")]);
        let e = load_rgb(&fifo).err().unwrap().to_string();
        assert!(
            e.contains("z.png") && e.contains("not a regular file"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue 19, finding 3: a JPEG cut short decoded to partly invented pixels with no word.
    #[test]
    fn truncated_images_are_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("ventral-cut-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x * y) % 251) as u8])
        });
        for ext in ["jpg", "png"] {
            let whole = dir.join(format!("whole.{ext}"));
            img.save(&whole).unwrap();
            let decoded = load_rgb(&whole).unwrap();
            assert_eq!((decoded.width, decoded.height), (64, 48));
            let bytes = std::fs::read(&whole).unwrap();
            // JPEG: also cut inside the end marker; a PNG cut there has all its pixels.
            let cuts = if ext == "jpg" {
                vec![bytes.len() / 2, bytes.len() - 1]
            } else {
                vec![bytes.len() / 2]
            };
            for cut in cuts {
                let half = dir.join(format!("cut{cut}.{ext}"));
                std::fs::write(&half, &bytes[..cut]).unwrap();
                let e = load_rgb(&half).err().map(|e| e.to_string());
                let e =
                    e.unwrap_or_else(|| panic!("{ext} cut at {cut} of {} decoded", bytes.len()));
                assert!(e.contains(&format!("cut{cut}.{ext}")), "{e}");
            }
            // Bytes after the end of the image are not a truncation.
            let mut longer = bytes.clone();
            longer.extend_from_slice(b"trailing");
            let padded = dir.join(format!("padded.{ext}"));
            std::fs::write(&padded, &longer).unwrap();
            assert_eq!(load_rgb(&padded).unwrap(), decoded, "{ext}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Found by the fuzz campaign: 370 bytes of JPEG declaring 57,137 × 3,763 pixels took
    /// seconds to decode; a side past the limit is refused by the decoder's limits, by name.
    #[test]
    fn images_past_the_size_limit_are_refused_before_decoding() {
        let dir = std::env::temp_dir().join(format!("ventral-huge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.jpg");
        // Grayscale: 215 MB decoded, inside the decoder's default allocation limit.
        image::GrayImage::from_fn(16, 8, |x, y| image::Luma([x as u8 * 9 + y as u8 * 20]))
            .save(&small)
            .unwrap();
        let mut bytes = std::fs::read(&small).unwrap();
        let sof = bytes
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline frame header");
        // FF C0, length (2), precision (1), height (2), width (2).
        bytes[sof + 5..sof + 7].copy_from_slice(&3763u16.to_be_bytes());
        bytes[sof + 7..sof + 9].copy_from_slice(&57137u16.to_be_bytes());
        let huge = dir.join("huge.jpg");
        std::fs::write(&huge, &bytes).unwrap();
        let t = std::time::Instant::now();
        let e = load_rgb(&huge).err().unwrap().to_string();
        assert!(e.contains("huge.jpg"), "{e}");
        assert!(
            t.elapsed() < std::time::Duration::from_secs(1),
            "refused before decoding"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    use super::*;

    #[test]
    fn folders_are_sorted_by_name_and_bad_files_are_named() {
        let d = std::env::temp_dir().join(format!("ventral-stimuli-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert!(list_images(&d)
            .unwrap_err()
            .to_string()
            .contains("no images"));
        let img =
            image::RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8 * 80, y as u8 * 100, 7]));
        img.save(d.join("b.png")).unwrap();
        image::GrayImage::from_pixel(2, 2, image::Luma([9]))
            .save(d.join("a.PNG"))
            .unwrap();
        std::fs::write(d.join("c.jpg"), b"not a jpeg").unwrap();
        std::fs::write(d.join("notes.txt"), b"x").unwrap();
        let files = list_images(&d).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["a.PNG", "b.png", "c.jpg"]);
        assert_eq!(
            load_rgb(&files[0]).unwrap().data,
            vec![9; 12],
            "gray replicated"
        );
        let b = load_rgb(&files[1]).unwrap();
        assert_eq!((b.width, b.height), (3, 2));
        assert_eq!(&b.data[3..6], &[80, 0, 7]);
        let e = load_rgb(&files[2]).unwrap_err().to_string();
        assert!(e.contains("c.jpg") && e.contains("cannot decode"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn csv_quotes_and_manifests() {
        let rows = parse_csv("file,label\r\na.png,\"x, \"\"y\"\"\"\n\nb.png,z").unwrap();
        assert_eq!(
            rows,
            [
                vec!["file", "label"],
                vec!["a.png", "x, \"y\""],
                vec!["b.png", "z"]
            ]
        );
        assert!(parse_csv("a,\"b").is_err());

        let d = std::env::temp_dir().join(format!("ventral-manifest-{}", std::process::id()));
        std::fs::create_dir_all(d.join("img")).unwrap();
        for n in ["p.png", "q.png"] {
            image::RgbImage::from_pixel(4, 3, image::Rgb([1, 2, 3]))
                .save(d.join("img").join(n))
                .unwrap();
        }
        let csv = d.join("stimuli.csv");
        std::fs::write(&csv, "category,file\nface,img/q.png\nbody,img/p.png\n").unwrap();
        let mut set = StimulusSet::manifest(&csv).unwrap();
        assert_eq!(
            set.names,
            ["img/q.png", "img/p.png"],
            "manifest order, not sorted"
        );
        assert_eq!(set.label_columns, ["category"]);
        assert_eq!(set.labels, [vec!["face"], vec!["body"]]);
        let x = set.batch(0, 2, &Preprocess::square(2)).unwrap();
        assert_eq!(x.len(), 2 * 3 * 4);
        std::fs::write(&csv, "file\nimg/missing.png\n").unwrap();
        let e = StimulusSet::manifest(&csv).err().unwrap().to_string();
        assert!(e.contains("missing.png") && e.contains("line 2"), "{e}");
        std::fs::write(&csv, "name\nimg/p.png\n").unwrap();
        let e = StimulusSet::manifest(&csv).err().unwrap().to_string();
        assert!(e.contains("no 'file' column"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }
}
