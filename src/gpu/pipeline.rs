//! Shader families, explicit bind-group layouts and the pipeline cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Context;
use crate::error::Result;

/// How a kernel sees one binding. Binding 0 of every family is its uniform parameter block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    Uniform,
    Read,
    ReadWrite,
}

/// One `.wgsl` file: its source and the layout all its entry points share.
#[derive(Debug)]
pub struct KernelFamily {
    pub name: &'static str,
    pub source: &'static str,
    pub bindings: &'static [BindingKind],
}

/// Cache key of a compiled pipeline: family, entry point and override constants (as f64 bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelKey {
    pub family: &'static str,
    pub entry: &'static str,
    pub constants: Vec<(&'static str, u64)>,
}

pub(crate) struct FamilyObjects {
    module: wgpu::ShaderModule,
    bind_group_layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
}

#[derive(Default)]
pub(crate) struct PipelineCache {
    families: Mutex<HashMap<&'static str, Arc<FamilyObjects>>>,
    pipelines: Mutex<HashMap<KernelKey, Arc<wgpu::ComputePipeline>>>,
}

fn layout_entries(bindings: &[BindingKind]) -> Vec<wgpu::BindGroupLayoutEntry> {
    bindings
        .iter()
        .enumerate()
        .map(|(i, kind)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: match kind {
                BindingKind::Uniform => wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                BindingKind::Read | BindingKind::ReadWrite => wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage {
                        read_only: *kind == BindingKind::Read,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
            },
            count: None,
        })
        .collect()
}

impl Context {
    fn family_objects(&self, family: &'static KernelFamily) -> Result<Arc<FamilyObjects>> {
        let mut families = self
            .pipelines
            .families
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(f) = families.get(family.name) {
            return Ok(f.clone());
        }
        let objects = self.scoped(&format!("compiling shaders/{}.wgsl", family.name), || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(family.name),
                    source: wgpu::ShaderSource::Wgsl(family.source.into()),
                });
            let bind_group_layout =
                self.device
                    .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: Some(family.name),
                        entries: &layout_entries(family.bindings),
                    });
            let pipeline_layout =
                self.device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(family.name),
                        bind_group_layouts: &[Some(&bind_group_layout)],
                        immediate_size: 0,
                    });
            FamilyObjects {
                module,
                bind_group_layout,
                pipeline_layout,
            }
        })?;
        let objects = Arc::new(objects);
        families.insert(family.name, objects.clone());
        Ok(objects)
    }

    /// The compiled pipeline for `entry` in `family` with the given override constants, built once.
    pub(crate) fn pipeline(
        &self,
        family: &'static KernelFamily,
        entry: &'static str,
        constants: &[(&'static str, f64)],
    ) -> Result<(Arc<wgpu::ComputePipeline>, Arc<FamilyObjects>)> {
        let objects = self.family_objects(family)?;
        let key = KernelKey {
            family: family.name,
            entry,
            constants: constants.iter().map(|(k, v)| (*k, v.to_bits())).collect(),
        };
        let mut pipelines = self
            .pipelines
            .pipelines
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pipelines.get(&key) {
            return Ok((p.clone(), objects));
        }
        let pipeline = self.scoped(
            &format!("building pipeline {}::{entry}", family.name),
            || {
                self.device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(entry),
                        layout: Some(&objects.pipeline_layout),
                        module: &objects.module,
                        entry_point: Some(entry),
                        compilation_options: wgpu::PipelineCompilationOptions {
                            constants,
                            zero_initialize_workgroup_memory: false,
                        },
                        cache: None,
                    })
            },
        )?;
        let pipeline = Arc::new(pipeline);
        pipelines.insert(key, pipeline.clone());
        Ok((pipeline, objects))
    }

    /// Number of distinct pipelines built so far.
    pub fn pipeline_count(&self) -> usize {
        self.pipelines
            .pipelines
            .lock()
            .map(|p| p.len())
            .unwrap_or(0)
    }
}

impl FamilyObjects {
    pub(crate) fn bind_group_layout(&self) -> &wgpu::BindGroupLayout {
        &self.bind_group_layout
    }
}
