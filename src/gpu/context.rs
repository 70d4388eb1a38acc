//! Choosing an adapter and opening a device on it. This is the one seam between "which GPU" and "use
//! the GPU": everything else takes a `&Context`.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::pipeline::PipelineCache;
use super::pool::BufferPool;
use crate::error::{Error, Result};

/// Which graphics API to open adapters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    #[default]
    Any,
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

impl Backend {
    fn wgpu_backends(self) -> wgpu::Backends {
        match self {
            Backend::Any => wgpu::Backends::all(),
            Backend::Vulkan => wgpu::Backends::VULKAN,
            Backend::Metal => wgpu::Backends::METAL,
            Backend::Dx12 => wgpu::Backends::DX12,
            Backend::Gl => wgpu::Backends::GL,
        }
    }
}

impl FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "any" | "" => Ok(Backend::Any),
            "vulkan" | "vk" => Ok(Backend::Vulkan),
            "metal" => Ok(Backend::Metal),
            "dx12" | "d3d12" => Ok(Backend::Dx12),
            "gl" | "gles" | "opengl" => Ok(Backend::Gl),
            other => Err(Error::Invalid(format!(
                "unknown backend '{other}': expected vulkan, metal, dx12, gl or any"
            ))),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Backend::Any => "any",
            Backend::Vulkan => "vulkan",
            Backend::Metal => "metal",
            Backend::Dx12 => "dx12",
            Backend::Gl => "gl",
        };
        f.write_str(s)
    }
}

/// How to pick the adapter. Built from flags, or from `VENTRAL_BACKEND`, `VENTRAL_ADAPTER` and
/// `VENTRAL_MAX_BINDING_BYTES` with [`ContextOptions::from_env`].
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    pub backend: Backend,
    /// Case-insensitive substring of the adapter name.
    pub adapter: Option<String>,
    /// Lower the storage-binding size limit below the adapter's (to exercise chunking).
    pub max_binding_bytes: Option<u64>,
}

impl ContextOptions {
    /// Options from the environment; unset variables mean "any".
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let backend = match var("VENTRAL_BACKEND") {
            Some(b) => b.parse()?,
            None => Backend::Any,
        };
        let max_binding_bytes = match var("VENTRAL_MAX_BINDING_BYTES") {
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                Error::Invalid(format!(
                    "VENTRAL_MAX_BINDING_BYTES='{v}' is not a whole number of bytes"
                ))
            })?),
            None => None,
        };
        Ok(ContextOptions {
            backend,
            adapter: var("VENTRAL_ADAPTER"),
            max_binding_bytes,
        })
    }

    /// Flags override the environment: `backend`/`adapter` given on the command line win.
    pub fn with_overrides(mut self, backend: Option<Backend>, adapter: Option<String>) -> Self {
        if let Some(b) = backend {
            self.backend = b;
        }
        if adapter.is_some() {
            self.adapter = adapter;
        }
        self
    }
}

/// What `ventral devices` prints about one adapter.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterReport {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub vendor: u32,
    pub device: u32,
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_storage_buffers_per_shader_stage: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
    pub min_storage_buffer_offset_alignment: u32,
    pub shader_f16: bool,
    pub subgroups: bool,
    pub subgroup_min_size: u32,
    pub subgroup_max_size: u32,
    pub timestamp_query: bool,
}

impl AdapterReport {
    fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let features = adapter.features();
        AdapterReport {
            name: info.name,
            backend: info.backend.to_string(),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver,
            driver_info: info.driver_info,
            vendor: info.vendor,
            device: info.device,
            max_buffer_size: limits.max_buffer_size,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_storage_buffers_per_shader_stage: limits.max_storage_buffers_per_shader_stage,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            min_storage_buffer_offset_alignment: limits.min_storage_buffer_offset_alignment,
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            subgroups: features.contains(wgpu::Features::SUBGROUP),
            subgroup_min_size: info.subgroup_min_size,
            subgroup_max_size: info.subgroup_max_size,
            timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        }
    }

    /// One line: name, backend, type, driver.
    pub fn summary(&self) -> String {
        format!(
            "{} ({}, {}, driver: {} {})",
            self.name, self.backend, self.device_type, self.driver, self.driver_info
        )
    }
}

/// An open device plus everything that lives as long as it: limits, the pipeline cache and the
/// buffer pool.
pub struct Context {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    report: AdapterReport,
    device_type: wgpu::DeviceType,
    limits: wgpu::Limits,
    max_binding_bytes: u64,
    pub(crate) pipelines: PipelineCache,
    pub(crate) pool: BufferPool,
    /// Set by the device-lost callback and by errors no scope caught.
    fault: Arc<Mutex<Option<String>>>,
    /// GPU seconds measured by timestamp queries since [`Context::start_gpu_timer`]; `None`
    /// when not timing.
    pub(crate) gpu_timer: Mutex<Option<f64>>,
}

fn instance(backend: Backend) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backend.wgpu_backends();
    wgpu::Instance::new(desc)
}

fn type_rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

fn backend_rank(b: wgpu::Backend) -> u8 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    }
}

/// Every adapter visible on the given backend, best first (discrete before integrated before CPU;
/// native APIs before GL).
fn adapters(backend: Backend) -> Vec<wgpu::Adapter> {
    let mut all = pollster::block_on(instance(backend).enumerate_adapters(backend.wgpu_backends()));
    all.sort_by_key(|a| {
        let i = a.get_info();
        (type_rank(i.device_type), backend_rank(i.backend))
    });
    all
}

impl Context {
    /// Reports on every adapter the backend shows, best first.
    pub fn list_adapters(backend: Backend) -> Vec<AdapterReport> {
        adapters(backend).iter().map(AdapterReport::of).collect()
    }

    /// Opens the best adapter matching the options.
    pub fn new(opts: &ContextOptions) -> Result<Context> {
        let all = adapters(opts.backend);
        let seen = all
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({})", i.name, i.backend)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let wanted = opts.adapter.as_ref().map(|s| s.to_lowercase());
        let chosen = all.into_iter().find(|a| match &wanted {
            Some(w) => a.get_info().name.to_lowercase().contains(w.as_str()),
            None => true,
        });
        match chosen {
            Some(a) => Context::open(a, opts.max_binding_bytes),
            None => Err(Error::NoAdapter {
                backend: opts.backend.to_string(),
                filter: opts
                    .adapter
                    .as_ref()
                    .map(|s| format!(" and name '{s}'"))
                    .unwrap_or_default(),
                seen: if seen.is_empty() { "none".into() } else { seen },
            }),
        }
    }

    /// Opens every adapter matching the options (for `--all-adapters`). Adapters that fail to open
    /// come back as errors in their slot rather than hiding the others.
    pub fn all(opts: &ContextOptions) -> Vec<(AdapterReport, Result<Context>)> {
        let wanted = opts.adapter.as_ref().map(|s| s.to_lowercase());
        adapters(opts.backend)
            .into_iter()
            .filter(|a| match &wanted {
                Some(w) => a.get_info().name.to_lowercase().contains(w.as_str()),
                None => true,
            })
            .map(|a| {
                (
                    AdapterReport::of(&a),
                    Context::open(a, opts.max_binding_bytes),
                )
            })
            .collect()
    }

    fn open(adapter: wgpu::Adapter, binding_override: Option<u64>) -> Result<Context> {
        let report = AdapterReport::of(&adapter);
        let info = adapter.get_info();
        // The adapter's real limits: wgpu's defaults are the WebGPU minimums (128 MiB bindings,
        // 256 MiB buffers), far below what most GPUs give.
        let limits = adapter.limits();
        let features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("ventral"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::default(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::RequestDevice {
            adapter: info.name.clone(),
            message: e.to_string(),
        })?;

        let fault = Arc::new(Mutex::new(None::<String>));
        let lost = fault.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if let Ok(mut f) = lost.lock() {
                f.get_or_insert(format!("{reason:?}: {msg}"));
            }
        });
        let uncaught = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut f) = uncaught.lock() {
                f.get_or_insert(e.to_string());
            }
        }));

        let adapter_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let align = u64::from(limits.min_storage_buffer_offset_alignment);
        let max_binding_bytes = match binding_override {
            Some(b) if b < 4 * align => {
                return Err(Error::Invalid(format!(
                    "max binding size {b} bytes is too small: it must be at least {} bytes (4 × the offset alignment)",
                    4 * align
                )))
            }
            Some(b) => b.min(adapter_binding),
            None => adapter_binding,
        } / 4
            * 4;
        log::info!(
            "adapter: {} | max binding {} MiB",
            report.summary(),
            max_binding_bytes >> 20
        );
        Ok(Context {
            device,
            queue,
            device_type: info.device_type,
            report,
            limits,
            max_binding_bytes,
            pipelines: PipelineCache::default(),
            pool: BufferPool::default(),
            fault,
            gpu_timer: Mutex::new(None),
        })
    }

    /// Starts adding up the GPU time of every submission (timestamp queries at the start and end
    /// of each compute pass). False, and nothing is timed, when the adapter has no timestamp
    /// queries.
    pub fn start_gpu_timer(&self) -> bool {
        if !self.report.timestamp_query {
            return false;
        }
        if let Ok(mut t) = self.gpu_timer.lock() {
            *t = Some(0.0);
        }
        true
    }

    /// The GPU seconds since [`Context::start_gpu_timer`], and stops timing.
    pub fn take_gpu_seconds(&self) -> Option<f64> {
        self.gpu_timer.lock().ok().and_then(|mut t| t.take())
    }

    /// What this context's adapter is.
    pub fn adapter(&self) -> &AdapterReport {
        &self.report
    }

    /// True for software rasterisers such as lavapipe / llvmpipe: kernels pick CPU-friendly variants.
    pub fn is_cpu(&self) -> bool {
        self.device_type == wgpu::DeviceType::Cpu
    }

    /// The limits the device was opened with.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Largest storage binding this context uses (the adapter's, or lower by request).
    pub fn max_binding_bytes(&self) -> u64 {
        self.max_binding_bytes
    }

    pub(crate) fn offset_alignment(&self) -> u64 {
        u64::from(self.limits.min_storage_buffer_offset_alignment)
    }

    /// Fails if the device was lost or raised an error that no scope caught.
    pub(crate) fn check_fault(&self) -> Result<()> {
        let fault = self.fault.lock().map(|f| f.clone()).unwrap_or(None);
        match fault {
            Some(msg) => Err(Error::DeviceLost(msg)),
            None => Ok(()),
        }
    }

    /// Runs `f` inside validation and out-of-memory error scopes, turning anything wgpu reports
    /// into an `Err` naming `during`.
    pub(crate) fn scoped<T>(&self, during: &str, f: impl FnOnce() -> T) -> Result<T> {
        self.check_fault()?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        if let Some(e) = v.or(o) {
            return Err(Error::Gpu {
                during: during.to_string(),
                message: e.to_string(),
            });
        }
        self.check_fault()?;
        Ok(out)
    }

    /// Blocks until all submitted work is done.
    pub(crate) fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu {
                during: "waiting for the GPU".into(),
                message: e.to_string(),
            })?;
        self.check_fault()
    }
}
