//! Procedural stimulus sets drawn in code: shapes, bars of several lengths and orientations,
//! Navon-style global/local letters, and mirror-image pairs. Every image is `size × size` RGB on a
//! mid-grey background, antialiased by 4 × 4 supersampling. A seed jitters positions by up to 2 %
//! of the image, so different seeds give different (but equally structured) sets.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::Rgb8;
use crate::error::{Error, Result};

/// The sets `generate` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProceduralSet {
    /// Disc, square, triangle, cross, star and ring at three sizes (18 images).
    Shapes,
    /// Bars of three lengths at four orientations (12 images).
    Bars,
    /// Global letters E, H, L, T made of local letters E, H, L, T (16 images).
    Navon,
    /// Four asymmetric shapes, each as drawn and mirrored left–right and top–bottom (12 images).
    Mirror,
    /// The built-in demo: four categories of nine (shapes, bars, Navon letters, mirror shapes).
    Demo,
}

named_enum!(ProceduralSet, "procedural stimulus set", {
    Shapes => "shapes",
    Bars => "bars",
    Navon => "navon",
    Mirror => "mirror",
    Demo => "demo",
});

/// One generated stimulus: a name, label columns and the image.
#[derive(Debug, Clone)]
pub struct Generated {
    pub name: String,
    /// `category`, `variant` and `magnitude` (size, length or similar, in [0, 1]).
    pub category: String,
    pub variant: String,
    pub magnitude: f64,
    pub image: Rgb8,
}

/// A region of the unit square, y pointing down.
#[derive(Debug, Clone)]
enum Shape {
    Disc {
        cx: f64,
        cy: f64,
        r: f64,
    },
    Ring {
        cx: f64,
        cy: f64,
        r: f64,
        inner: f64,
    },
    Polygon(Vec<(f64, f64)>),
    Union(Vec<Shape>),
}

impl Shape {
    fn contains(&self, x: f64, y: f64) -> bool {
        match self {
            Shape::Disc { cx, cy, r } => (x - cx).powi(2) + (y - cy).powi(2) <= r * r,
            Shape::Ring { cx, cy, r, inner } => {
                let d = (x - cx).powi(2) + (y - cy).powi(2);
                d <= r * r && d >= inner * inner
            }
            Shape::Polygon(p) => {
                // Even–odd rule.
                let mut inside = false;
                let mut j = p.len() - 1;
                for i in 0..p.len() {
                    let ((xi, yi), (xj, yj)) = (p[i], p[j]);
                    if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                        inside = !inside;
                    }
                    j = i;
                }
                inside
            }
            Shape::Union(v) => v.iter().any(|s| s.contains(x, y)),
        }
    }

    fn map(&self, f: &dyn Fn((f64, f64)) -> (f64, f64)) -> Shape {
        match self {
            Shape::Polygon(p) => Shape::Polygon(p.iter().map(|&q| f(q)).collect()),
            Shape::Union(v) => Shape::Union(v.iter().map(|s| s.map(f)).collect()),
            other => other.clone(),
        }
    }
}

const BACKGROUND: [u8; 3] = [128, 128, 128];
const INK: [u8; 3] = [250, 250, 250];

fn render(size: usize, shape: &Shape, ink: [u8; 3]) -> Rgb8 {
    const SS: usize = 4;
    let mut data = Vec::with_capacity(size * size * 3);
    for py in 0..size {
        for px in 0..size {
            let mut hits = 0;
            for sy in 0..SS {
                for sx in 0..SS {
                    let x = (px as f64 + (sx as f64 + 0.5) / SS as f64) / size as f64;
                    let y = (py as f64 + (sy as f64 + 0.5) / SS as f64) / size as f64;
                    hits += usize::from(shape.contains(x, y));
                }
            }
            let a = hits as f64 / (SS * SS) as f64;
            for c in 0..3 {
                let v = f64::from(BACKGROUND[c]) * (1.0 - a) + f64::from(ink[c]) * a;
                data.push(v.round() as u8);
            }
        }
    }
    Rgb8 {
        width: size,
        height: size,
        data,
    }
}

fn regular(cx: f64, cy: f64, r: f64, k: usize, phase: f64) -> Vec<(f64, f64)> {
    (0..k)
        .map(|i| {
            let t = phase + i as f64 * std::f64::consts::TAU / k as f64;
            (cx + r * t.cos(), cy + r * t.sin())
        })
        .collect()
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Shape {
    Shape::Polygon(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
}

const SHAPE_KINDS: [&str; 6] = ["disc", "square", "triangle", "cross", "star", "ring"];

fn basic_shape(kind: &str, cx: f64, cy: f64, r: f64) -> Shape {
    use std::f64::consts::FRAC_PI_2;
    match kind {
        "disc" => Shape::Disc { cx, cy, r },
        "square" => rect(cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85),
        "triangle" => Shape::Polygon(regular(cx, cy + r * 0.15, r, 3, -FRAC_PI_2)),
        "cross" => Shape::Union(vec![
            rect(cx - r, cy - r * 0.3, cx + r, cy + r * 0.3),
            rect(cx - r * 0.3, cy - r, cx + r * 0.3, cy + r),
        ]),
        "star" => Shape::Polygon(
            (0..10)
                .map(|i| {
                    let rr = if i % 2 == 0 { r } else { r * 0.42 };
                    let t = -FRAC_PI_2 + i as f64 * std::f64::consts::PI / 5.0;
                    (cx + rr * t.cos(), cy + rr * t.sin())
                })
                .collect(),
        ),
        _ => Shape::Ring {
            cx,
            cy,
            r,
            inner: r * 0.6,
        },
    }
}

fn bar(cx: f64, cy: f64, length: f64, width: f64, degrees: f64) -> Shape {
    let t = degrees.to_radians();
    let (c, s) = (t.cos(), t.sin());
    let (hl, hw) = (length / 2.0, width / 2.0);
    Shape::Polygon(
        [(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw)]
            .iter()
            .map(|&(x, y)| (cx + x * c - y * s, cy + x * s + y * c))
            .collect(),
    )
}

/// 5 × 5 letter bitmaps, rows top to bottom.
fn letter_bits(letter: char) -> [&'static str; 5] {
    match letter {
        'E' => ["#####", "#....", "####.", "#....", "#####"],
        'H' => ["#...#", "#...#", "#####", "#...#", "#...#"],
        'L' => ["#....", "#....", "#....", "#....", "#####"],
        _ => ["#####", "..#..", "..#..", "..#..", "..#.."],
    }
}

/// A letter filling the box `(x0, y0)`–`(x0 + side, y0 + side)`, drawn from `draw(cell)` per on cell.
fn letter(l: char, x0: f64, y0: f64, side: f64, draw: &dyn Fn(f64, f64, f64) -> Shape) -> Shape {
    let cell = side / 5.0;
    let mut parts = Vec::new();
    for (r, row) in letter_bits(l).iter().enumerate() {
        for (c, ch) in row.chars().enumerate() {
            if ch == '#' {
                parts.push(draw(x0 + c as f64 * cell, y0 + r as f64 * cell, cell));
            }
        }
    }
    Shape::Union(parts)
}

fn navon(global: char, local: char, cx: f64, cy: f64, side: f64) -> Shape {
    letter(
        global,
        cx - side / 2.0,
        cy - side / 2.0,
        side,
        &|x, y, cell| {
            let m = cell * 0.1;
            letter(local, x + m, y + m, cell - 2.0 * m, &|x, y, c| {
                rect(x, y, x + c, y + c)
            })
        },
    )
}

/// Asymmetric shapes for mirror pairs (outlines in a unit box centred on 0).
fn asymmetric(i: usize) -> Shape {
    let p = match i {
        0 => vec![
            (-0.5, -0.5),
            (0.5, -0.5),
            (0.5, -0.25),
            (-0.2, -0.25),
            (-0.2, 0.0),
            (0.3, 0.0),
            (0.3, 0.25),
            (-0.2, 0.25),
            (-0.2, 0.5),
            (-0.5, 0.5),
        ],
        1 => vec![(-0.5, 0.5), (-0.5, -0.5), (0.5, 0.3), (0.1, 0.5)],
        2 => vec![
            (-0.45, -0.5),
            (-0.15, -0.5),
            (-0.15, 0.2),
            (0.5, 0.2),
            (0.5, 0.5),
            (-0.45, 0.5),
        ],
        _ => vec![
            (-0.5, -0.1),
            (0.0, -0.5),
            (0.5, -0.5),
            (0.2, 0.0),
            (0.45, 0.5),
            (-0.3, 0.5),
        ],
    };
    Shape::Polygon(p)
}

struct Item {
    category: &'static str,
    variant: String,
    magnitude: f64,
    shape: Shape,
}

fn shapes(j: &dyn Fn() -> (f64, f64), sizes: &[f64]) -> Vec<Item> {
    let mut out = Vec::new();
    for kind in SHAPE_KINDS {
        for (k, &r) in sizes.iter().enumerate() {
            let (dx, dy) = j();
            out.push(Item {
                category: "shape",
                variant: format!("{kind}-{}", ["small", "medium", "large"][k]),
                magnitude: k as f64 / (sizes.len() - 1).max(1) as f64,
                shape: basic_shape(kind, 0.5 + dx, 0.5 + dy, r),
            });
        }
    }
    out
}

fn bars(j: &dyn Fn() -> (f64, f64), lengths: &[f64], angles: &[f64]) -> Vec<Item> {
    let mut out = Vec::new();
    for &deg in angles {
        for (k, &len) in lengths.iter().enumerate() {
            let (dx, dy) = j();
            out.push(Item {
                category: "bar",
                variant: format!("len{:02}-deg{deg:03}", (len * 100.0).round()),
                magnitude: k as f64 / (lengths.len() - 1).max(1) as f64,
                shape: bar(0.5 + dx, 0.5 + dy, len, 0.07, deg),
            });
        }
    }
    out
}

fn navons(j: &dyn Fn() -> (f64, f64), letters: &[char]) -> Vec<Item> {
    let mut out = Vec::new();
    for &g in letters {
        for (k, &l) in letters.iter().enumerate() {
            let (dx, dy) = j();
            out.push(Item {
                category: "navon",
                variant: format!("global{g}-local{l}"),
                magnitude: k as f64 / (letters.len() - 1).max(1) as f64,
                shape: navon(g, l, 0.5 + dx, 0.5 + dy, 0.7),
            });
        }
    }
    out
}

fn mirrors(j: &dyn Fn() -> (f64, f64), count: usize) -> Vec<Item> {
    let mut out = Vec::new();
    for i in 0..count {
        let base = asymmetric(i);
        for (k, (name, sx, sy)) in [
            ("original", 1.0, 1.0),
            ("mirror-lr", -1.0, 1.0),
            ("mirror-tb", 1.0, -1.0),
        ]
        .into_iter()
        .enumerate()
        {
            let (dx, dy) = j();
            out.push(Item {
                category: "mirror",
                variant: format!("shape{i}-{name}"),
                magnitude: k as f64 / 2.0,
                shape: base.map(&|(x, y)| (0.5 + dx + 0.6 * sx * x, 0.5 + dy + 0.6 * sy * y)),
            });
        }
    }
    out
}

/// The images of `set`, each `size × size`; `seed` jitters positions.
pub fn generate(set: ProceduralSet, size: usize, seed: u64) -> Result<Vec<Generated>> {
    if !(16..=4096).contains(&size) {
        return Err(Error::Invalid(format!(
            "procedural stimuli: size {size} must be between 16 and 4096 pixels"
        )));
    }
    let rng = std::cell::RefCell::new(ChaCha8Rng::seed_from_u64(seed));
    let jitter = || {
        let mut r = rng.borrow_mut();
        (r.random_range(-0.02..=0.02), r.random_range(-0.02..=0.02))
    };
    let items = match set {
        ProceduralSet::Shapes => shapes(&jitter, &[0.12, 0.2, 0.3]),
        ProceduralSet::Bars => bars(&jitter, &[0.2, 0.45, 0.7], &[0.0, 45.0, 90.0, 135.0]),
        ProceduralSet::Navon => navons(&jitter, &['E', 'H', 'L', 'T']),
        ProceduralSet::Mirror => mirrors(&jitter, 4),
        ProceduralSet::Demo => {
            let mut v: Vec<Item> = shapes(&jitter, &[0.12, 0.2, 0.3])
                .into_iter()
                .filter(|i| {
                    ["disc", "square", "star"]
                        .iter()
                        .any(|k| i.variant.starts_with(k))
                })
                .collect();
            v.extend(bars(&jitter, &[0.2, 0.45, 0.7], &[0.0, 45.0, 90.0]));
            v.extend(navons(&jitter, &['E', 'H', 'T']));
            v.extend(mirrors(&jitter, 3));
            v
        }
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, it)| Generated {
            name: format!("{:03}-{}-{}", i + 1, it.category, it.variant),
            category: it.category.into(),
            variant: it.variant,
            magnitude: it.magnitude,
            image: render(size, &it.shape, INK),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink_fraction(img: &Rgb8) -> f64 {
        img.data.chunks(3).filter(|p| p[0] > 200).count() as f64 / (img.width * img.height) as f64
    }

    #[test]
    fn sets_have_their_sizes_names_and_drawn_shapes() {
        for (set, n) in [
            (ProceduralSet::Shapes, 18),
            (ProceduralSet::Bars, 12),
            (ProceduralSet::Navon, 16),
            (ProceduralSet::Mirror, 12),
            (ProceduralSet::Demo, 36),
        ] {
            let g = generate(set, 48, 0).unwrap();
            assert_eq!(g.len(), n, "{set}");
            let mut names: Vec<&str> = g.iter().map(|s| s.name.as_str()).collect();
            names.dedup();
            assert_eq!(names.len(), n, "{set}: names are unique");
            for s in &g {
                assert_eq!((s.image.width, s.image.height), (48, 48));
                let f = ink_fraction(&s.image);
                assert!(f > 0.005 && f < 0.5, "{}: ink {f}", s.name);
            }
        }
        // A disc of radius 0.3 covers π·0.09 ≈ 28 % of the image.
        let g = generate(ProceduralSet::Shapes, 200, 0).unwrap();
        let disc = g.iter().find(|s| s.variant == "disc-large").unwrap();
        assert!((ink_fraction(&disc.image) - 0.2827).abs() < 0.01);
        // Longer bars have more ink.
        let b = generate(ProceduralSet::Bars, 64, 0).unwrap();
        assert!(ink_fraction(&b[0].image) < ink_fraction(&b[2].image));
    }

    #[test]
    fn mirror_images_are_mirrored_and_seeds_matter() {
        let a = generate(ProceduralSet::Mirror, 64, 3).unwrap();
        let b = generate(ProceduralSet::Mirror, 64, 3).unwrap();
        let c = generate(ProceduralSet::Mirror, 64, 4).unwrap();
        assert_eq!(a[0].image, b[0].image, "same seed, same image");
        assert_ne!(a[0].image, c[0].image, "another seed jitters the position");
        // Same ink, different image.
        let (o, m) = (&a[0].image, &a[1].image);
        assert!((ink_fraction(o) - ink_fraction(m)).abs() < 0.01);
        assert_ne!(o, m);
        assert!(generate(ProceduralSet::Demo, 8, 0).is_err());
        assert_eq!(
            "navon".parse::<ProceduralSet>().unwrap(),
            ProceduralSet::Navon
        );
    }
}
