//! The writers: the engine pushes [`Record`](crate::record::Record)s into a
//! [`Sink`](crate::record::Sink):
//! the JSONL and JSON exporters, the text printer, the statistics collector
//! and tests are all sinks.

pub mod ek;
pub mod encode;
pub mod json;
pub mod select;
pub mod text;
