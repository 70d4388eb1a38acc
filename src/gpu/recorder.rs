//! Records a sequence of kernel dispatches and submits them as one command buffer.

use std::sync::Arc;

use wgpu::util::DeviceExt;

use super::pipeline::{BindingKind, KernelFamily};
use super::{Context, Tensor};
use crate::error::{Error, Result};

/// A byte range of a buffer bound to one storage binding. Offsets are aligned down to the device's
/// storage offset alignment; the kernel receives the element offset of the logical start.
#[derive(Clone)]
pub(crate) struct Window {
    buffer: Arc<wgpu::Buffer>,
    offset: u64,
    size: u64,
}

struct Dispatch {
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
    // Keeps the bound buffers out of the pool until the submission has run.
    _hold: Vec<Arc<wgpu::Buffer>>,
}

/// Collects dispatches; [`Recorder::submit`] records them into one encoder, submits once and waits.
/// Buffers bound by a dispatch stay reserved until then, so intermediates can be dropped freely.
pub struct Recorder<'c> {
    ctx: &'c Context,
    dispatches: Vec<Dispatch>,
}

impl Context {
    /// A new, empty recorder on this context.
    pub fn recorder(&self) -> Recorder<'_> {
        Recorder {
            ctx: self,
            dispatches: Vec::new(),
        }
    }

    /// Records what `f` dispatches, submits it as one command buffer and waits for it.
    pub fn run<T>(&self, f: impl FnOnce(&mut Recorder<'_>) -> Result<T>) -> Result<T> {
        let mut rec = self.recorder();
        let out = f(&mut rec)?;
        rec.submit()?;
        Ok(out)
    }
}

impl<'c> Recorder<'c> {
    /// The context this recorder dispatches on.
    pub fn context(&self) -> &'c Context {
        self.ctx
    }

    /// Number of dispatches recorded so far.
    pub fn len(&self) -> usize {
        self.dispatches.len()
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.dispatches.is_empty()
    }

    /// Binds elements `lo..hi` of `t`. Returns the window and the element index of `lo` inside it.
    pub(crate) fn window(&self, t: &Tensor, lo: usize, hi: usize) -> Result<(Window, u32)> {
        debug_assert!(lo < hi && hi <= t.len());
        let align = self.ctx.offset_alignment();
        let start = lo as u64 * 4;
        let offset = start - start % align;
        let size = hi as u64 * 4 - offset;
        if size > self.ctx.max_binding_bytes() {
            return Err(Error::shape(
                "binding",
                format!(
                    "elements {lo}..{hi} of tensor {:?} span {size} bytes, over the {}-byte storage binding limit",
                    t.shape(),
                    self.ctx.max_binding_bytes()
                ),
            ));
        }
        let window = Window {
            buffer: t.buffer.clone(),
            offset,
            size,
        };
        Ok((window, ((start - offset) / 4) as u32))
    }

    /// Largest element span a window may cover, whatever its alignment.
    pub(crate) fn max_window_elems(&self) -> usize {
        ((self.ctx.max_binding_bytes() - self.ctx.offset_alignment()) / 4) as usize
    }

    /// A workgroup grid holding at least `count` workgroups within the per-dimension limit; the
    /// kernel linearises it as `wid.x + wid.y * nwg.x`.
    pub(crate) fn grid(&self, count: usize) -> Result<[u32; 3]> {
        let max = self.ctx.limits().max_compute_workgroups_per_dimension as usize;
        let x = count.clamp(1, max);
        let y = count.div_ceil(x);
        if y > max {
            return Err(Error::shape(
                "dispatch",
                format!("{count} workgroups exceed the {max}×{max} grid"),
            ));
        }
        Ok([x as u32, y as u32, 1])
    }

    /// Records one dispatch. `params` fills binding 0 (padded to 16 bytes); `windows` fill bindings
    /// 1.. in order, `None` binding a small placeholder for an unused optional input.
    pub(crate) fn dispatch(
        &mut self,
        family: &'static KernelFamily,
        entry: &'static str,
        constants: &[(&'static str, f64)],
        params: &[u32],
        windows: Vec<Option<Window>>,
        groups: [u32; 3],
    ) -> Result<()> {
        let storage = family.bindings.len() - 1;
        if family.bindings[0] != BindingKind::Uniform || windows.len() != storage {
            return Err(Error::Invalid(format!(
                "internal: {}::{entry} takes {storage} storage bindings, {} given",
                family.name,
                windows.len()
            )));
        }
        let (pipeline, objects) = self.ctx.pipeline(family, entry, constants)?;
        let mut words = params.to_vec();
        words.resize(params.len().div_ceil(4).max(1) * 4, 0);
        let placeholder = self.ctx.empty(&[64])?;
        let windows: Vec<Window> = windows
            .into_iter()
            .map(|w| {
                w.unwrap_or(Window {
                    buffer: placeholder.buffer.clone(),
                    offset: 0,
                    size: 256,
                })
            })
            .collect();
        let ctx = self.ctx;
        let bind_group = ctx.scoped(&format!("binding {}::{entry}", family.name), || {
            let uniform = ctx
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("params"),
                    contents: bytemuck::cast_slice(&words),
                    usage: wgpu::BufferUsages::UNIFORM,
                });
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform.as_entire_binding(),
            }];
            for (i, w) in windows.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &w.buffer,
                        offset: w.offset,
                        size: std::num::NonZeroU64::new(w.size),
                    }),
                });
            }
            ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(entry),
                layout: objects.bind_group_layout(),
                entries: &entries,
            })
        })?;
        self.dispatches.push(Dispatch {
            pipeline,
            bind_group,
            groups,
            _hold: windows.into_iter().map(|w| w.buffer).collect(),
        });
        Ok(())
    }

    /// Records every dispatch into one compute pass, submits it and waits for completion.
    pub fn submit(self) -> Result<()> {
        let ctx = self.ctx;
        if self.dispatches.is_empty() {
            return Ok(());
        }
        let timed = ctx.gpu_timer.lock().is_ok_and(|t| t.is_some());
        let readback = ctx.scoped("submitting kernels", || {
            let mut enc = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("ventral"),
                });
            let queries = timed.then(|| {
                ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("pass timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: 2,
                })
            });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("ventral"),
                    timestamp_writes: queries.as_ref().map(|q| wgpu::ComputePassTimestampWrites {
                        query_set: q,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    }),
                });
                for d in &self.dispatches {
                    pass.set_pipeline(&d.pipeline);
                    pass.set_bind_group(0, &d.bind_group, &[]);
                    pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
                }
            }
            let readback = queries.map(|q| {
                let buffer = |usage| {
                    ctx.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("timestamps"),
                        size: 16,
                        usage,
                        mapped_at_creation: false,
                    })
                };
                let resolved =
                    buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
                let staging = buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
                enc.resolve_query_set(&q, 0..2, &resolved, 0);
                enc.copy_buffer_to_buffer(&resolved, 0, &staging, 0, 16);
                staging
            });
            ctx.queue.submit([enc.finish()]);
            readback
        })?;
        ctx.wait()?;
        if let Some(staging) = readback {
            let ticks: [u64; 2] = ctx.map_read(&staging, |b| {
                let t: &[u64] = bytemuck::cast_slice(b);
                [t[0], t[1]]
            })?;
            let seconds = ticks[1].saturating_sub(ticks[0]) as f64
                * f64::from(ctx.queue.get_timestamp_period())
                * 1e-9;
            if let Ok(mut t) = ctx.gpu_timer.lock() {
                if let Some(total) = t.as_mut() {
                    *total += seconds;
                }
            }
        }
        Ok(())
    }
}
