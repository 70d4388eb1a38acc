//! Stimuli: image folders decoded to RGB and preprocessed exactly as the reference pipelines do.

pub mod preprocess;

use std::path::{Path, PathBuf};

pub use preprocess::{resize_bilinear, Rgb8, Torchvision};

use crate::error::{Error, Result};

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
    let img = image::ImageReader::open(path)
        .map_err(|e| Error::file(path, format!("cannot open: {e}")))?
        .with_guessed_format()
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?
        .decode()
        .map_err(|e| Error::file(path, format!("cannot decode image: {e}")))?;
    let rgb = img.to_rgb8();
    Ok(Rgb8 {
        width: rgb.width() as usize,
        height: rgb.height() as usize,
        data: rgb.into_raw(),
    })
}

#[cfg(test)]
mod tests {
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
}
