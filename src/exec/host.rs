//! Tensors in host memory, shared by the native and reference executors, and the buffer pool that
//! lets the native executor reuse memory from batch to batch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// A row-major f32 tensor in host memory. Clones and reshapes share the data.
#[derive(Clone, Debug)]
pub struct HostTensor {
    data: Arc<Vec<f32>>,
    shape: Vec<usize>,
}

impl HostTensor {
    /// Wraps `data` as `shape`; the sizes must agree.
    pub fn new(data: Vec<f32>, shape: &[usize]) -> Result<HostTensor> {
        let len = checked_len(shape)?;
        if len != data.len() {
            return Err(Error::shape(
                "tensor",
                format!("{} values do not fill shape {shape:?}", data.len()),
            ));
        }
        Ok(HostTensor {
            data: Arc::new(data),
            shape: shape.to_vec(),
        })
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The same data as `shape`.
    pub fn reshape(&self, shape: &[usize]) -> Result<HostTensor> {
        if checked_len(shape)? != self.data.len() {
            return Err(Error::shape(
                "reshape",
                format!("cannot view {:?} as {shape:?}", self.shape),
            ));
        }
        Ok(HostTensor {
            data: Arc::clone(&self.data),
            shape: shape.to_vec(),
        })
    }

    /// The buffer, when this is its only holder.
    fn into_unique(self) -> Option<Vec<f32>> {
        Arc::try_unwrap(self.data).ok()
    }

    /// The values: the buffer itself when this is its only holder, else a copy.
    pub fn into_vec(self) -> Vec<f32> {
        Arc::try_unwrap(self.data).unwrap_or_else(|shared| shared.to_vec())
    }
}

/// The element count of `shape`, or an error when it overflows.
pub fn checked_len(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::shape("tensor", format!("shape {shape:?} overflows")))
}

/// Freed buffers by length, handed out again for tensors of the same size (a forward pass asks
/// for the same sizes batch after batch).
#[derive(Default)]
pub struct BufferPool {
    free: Mutex<HashMap<usize, Vec<Vec<f32>>>>,
}

impl BufferPool {
    /// A buffer of `len` values whose contents are unspecified (the caller overwrites all of
    /// them). A fresh allocation that fails is an error naming `what` and the bytes.
    pub fn take(&self, len: usize, what: &str) -> Result<Vec<f32>> {
        if let Some(v) = self
            .free
            .lock()
            .expect("buffer pool lock")
            .get_mut(&len)
            .and_then(Vec::pop)
        {
            return Ok(v);
        }
        // Probe that the allocation can be made (an error, not an abort), then take zeroed
        // memory: large zeroed allocations come fresh from the OS and need no fill.
        let mut probe: Vec<f32> = Vec::new();
        probe.try_reserve_exact(len).map_err(|_| {
            Error::shape(
                "alloc",
                format!(
                    "{what}: cannot allocate {} bytes of host memory",
                    len as u128 * 4
                ),
            )
        })?;
        drop(probe);
        Ok(vec![0.0; len])
    }

    /// Keeps `t`'s buffer for reuse when nothing else holds it.
    pub fn give(&self, t: HostTensor) {
        if let Some(v) = t.into_unique() {
            self.free
                .lock()
                .expect("buffer pool lock")
                .entry(v.len())
                .or_default()
                .push(v);
        }
    }

    /// Bytes held for reuse.
    pub fn bytes(&self) -> usize {
        let free = self.free.lock().expect("buffer pool lock");
        free.iter().map(|(len, v)| len * v.len() * 4).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_that_cannot_be_made_is_an_error_naming_the_bytes() {
        let e = BufferPool::default()
            .take(1 << 60, "features.0")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("features.0") && e.contains(&(4u128 << 60).to_string()),
            "{e}"
        );
    }

    #[test]
    fn freed_buffers_are_reused_by_size() {
        let pool = BufferPool::default();
        let t = HostTensor::new(pool.take(6, "x").unwrap(), &[2, 3]).unwrap();
        let shared = t.reshape(&[3, 2]).unwrap();
        pool.give(t);
        assert_eq!(
            pool.bytes(),
            0,
            "a buffer still viewed elsewhere is not reused"
        );
        pool.give(shared);
        assert_eq!(pool.bytes(), 24);
        assert_eq!(pool.take(6, "y").unwrap().len(), 6);
        assert_eq!(pool.bytes(), 0);
        assert!(HostTensor::new(vec![0.0; 5], &[2, 3]).is_err());
    }
}
