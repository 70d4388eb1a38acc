//! Figures of the battery.
