//! Buffer pool: storage buffers are reused by size class once nothing but the pool holds them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Buffers bucketed by size class. A buffer is free when the pool holds its only reference, so a
/// tensor (or a recorded dispatch) keeps its buffer alive simply by holding the `Arc`.
#[derive(Default)]
pub(crate) struct BufferPool {
    classes: Mutex<HashMap<u64, Vec<Arc<wgpu::Buffer>>>>,
}

/// Size classes: powers of two and 1.5 × powers of two, at least 256 bytes, so at most a third is
/// wasted and similar shapes share buffers.
pub(crate) fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(256);
    let p = bytes.next_power_of_two();
    let three_quarters = p / 4 * 3;
    if bytes <= three_quarters {
        three_quarters
    } else {
        p
    }
}

impl BufferPool {
    /// A free buffer of at least `bytes`, made if none is free. The caller checks device limits.
    pub(crate) fn acquire(&self, device: &wgpu::Device, bytes: u64) -> Arc<wgpu::Buffer> {
        let class = size_class(bytes);
        let mut classes = self.classes.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = classes.entry(class).or_default();
        if let Some(free) = bucket.iter().find(|b| Arc::strong_count(b) == 1) {
            return free.clone();
        }
        let buffer = Arc::new(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ventral tensor"),
            size: class,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }));
        bucket.push(buffer.clone());
        buffer
    }

    /// Drops every free buffer (memory goes back to the driver).
    pub(crate) fn trim(&self) {
        let mut classes = self.classes.lock().unwrap_or_else(|p| p.into_inner());
        for bucket in classes.values_mut() {
            bucket.retain(|b| Arc::strong_count(b) > 1);
        }
    }

    /// Bytes held by the pool, in use or free.
    pub(crate) fn held_bytes(&self) -> u64 {
        let classes = self.classes.lock().unwrap_or_else(|p| p.into_inner());
        classes.iter().map(|(c, v)| c * v.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_cover_request_with_bounded_waste() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 384);
        assert_eq!(size_class(384), 384);
        assert_eq!(size_class(385), 512);
        assert_eq!(size_class(1000), 1024);
        for b in [300u64, 5000, 123_457, 9_999_999] {
            let c = size_class(b);
            assert!(c >= b && c * 2 <= b * 3 + 512, "{b} -> {c}");
        }
    }
}
