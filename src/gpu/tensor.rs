//! f32 tensors living in GPU storage buffers.

use std::sync::Arc;

use super::Context;
use crate::error::{Error, Result};

/// A dense, row-major f32 tensor on the GPU. Cloning is cheap (the buffer is shared).
#[derive(Clone)]
pub struct Tensor {
    pub(crate) buffer: Arc<wgpu::Buffer>,
    shape: Vec<usize>,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor{:?}", self.shape)
    }
}

impl Tensor {
    /// Logical shape, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when some dimension is zero (never true for tensors made by [`Context`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Same data, another shape with the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if shape.iter().product::<usize>() != self.len() {
            return Err(Error::shape(
                "reshape",
                format!("cannot view {:?} as {:?}", self.shape, shape),
            ));
        }
        Ok(Tensor {
            buffer: self.buffer.clone(),
            shape: shape.to_vec(),
        })
    }
}

fn byte_len(what: &str, shape: &[usize]) -> Result<u64> {
    if shape.contains(&0) {
        return Err(Error::shape(
            "tensor",
            format!("{what} has a zero-size dimension in shape {shape:?}"),
        ));
    }
    shape
        .iter()
        .try_fold(4u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| Error::shape("tensor", format!("{what} shape {shape:?} overflows")))
}

impl Context {
    /// An uninitialised tensor from the pool.
    pub fn empty(&self, shape: &[usize]) -> Result<Tensor> {
        let bytes = byte_len("new tensor", shape)?;
        let limit = self.limits().max_buffer_size;
        if bytes > limit {
            return Err(Error::TooLarge {
                what: format!("tensor of shape {shape:?}"),
                bytes,
                limit,
            });
        }
        Ok(Tensor {
            buffer: self.pool.acquire(&self.device, bytes),
            shape: shape.to_vec(),
        })
    }

    /// Copies host data into a new tensor. `data.len()` must equal the shape's element count.
    pub fn upload(&self, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if data.len() != n {
            return Err(Error::shape(
                "upload",
                format!(
                    "shape {shape:?} holds {n} values but {} were given",
                    data.len()
                ),
            ));
        }
        let t = self.empty(shape)?;
        self.scoped("upload", || {
            self.queue
                .write_buffer(&t.buffer, 0, bytemuck::cast_slice(data))
        })?;
        Ok(t)
    }

    /// Reads one tensor back to the host.
    pub fn read(&self, t: &Tensor) -> Result<Vec<f32>> {
        Ok(self.read_many(&[t])?.remove(0))
    }

    /// Reads several tensors back with one submission and one wait.
    pub fn read_many(&self, tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        let staging: Vec<wgpu::Buffer> = self.scoped("readback", || {
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("readback"),
                });
            let staging = tensors
                .iter()
                .map(|t| {
                    let bytes = t.len() as u64 * 4;
                    let s = self.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("readback staging"),
                        size: bytes,
                        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    });
                    enc.copy_buffer_to_buffer(&t.buffer, 0, &s, 0, bytes);
                    s
                })
                .collect();
            self.queue.submit([enc.finish()]);
            staging
        })?;
        let mut out = Vec::with_capacity(staging.len());
        for s in &staging {
            out.push(self.map_read(s, |b| bytemuck::cast_slice::<u8, f32>(b).to_vec())?);
        }
        Ok(out)
    }

    /// Waits for `staging` (a `MAP_READ` buffer whose copy was submitted) and hands its mapped
    /// bytes (aligned as the buffer is) to `read`.
    pub(crate) fn map_read<T>(
        &self,
        staging: &wgpu::Buffer,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|_| Error::DeviceLost("readback callback never ran".into()))?
            .map_err(|e| Error::Gpu {
                during: "mapping a readback buffer".into(),
                message: e.to_string(),
            })?;
        let view = staging.get_mapped_range(..).map_err(|e| Error::Gpu {
            during: "reading a mapped buffer".into(),
            message: e.to_string(),
        })?;
        let out = read(&view);
        drop(view);
        staging.unmap();
        Ok(out)
    }

    /// Bytes the buffer pool holds (in use or free).
    pub fn pool_bytes(&self) -> u64 {
        self.pool.held_bytes()
    }

    /// Releases free pooled buffers.
    pub fn trim_pool(&self) {
        self.pool.trim()
    }
}
