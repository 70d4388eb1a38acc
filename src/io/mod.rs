//! Files and transfers: downloads into the cache (more of the I/O layer moves here as it is
//! touched: arrays, checkpoints, safetensors weights, atomic output).

pub mod download;
