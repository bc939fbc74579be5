//! What every protocol's decoder needs and nothing protocol-specific: one
//! bounds-checked byte cursor that records the byte range of each value it
//! reads (the ranges of the model's [`Field`](crate::Field)s), the integer
//! readers at an offset (big-endian; little-endian for QM), and one sanitiser that turns bytes or
//! text into a safe one-line summary.
//!
//! Nothing here panics, whatever the bytes.

mod cursor;
mod line;

pub use cursor::{be_u16, be_u32, le_i16, le_i32, Cursor};
pub use line::{
    clip_chars, one_line, one_line_str, one_line_utf8, Ctl, Line, Piece, NAMED_C, NAMED_NRT,
};
