//! The battery's stimulus sets.
