//! The views and panes, each with its state, what its keys do and how it
//! draws: the timeline view's panes ([`sessions`], [`timeline`],
//! [`detail`]), the other views ([`stream`], [`ladder`], [`stats`],
//! [`notes`]), the [`help`] overlay and the header and footer ([`bars`]).
//! [`super::state::apply`] routes actions to them; [`super::draw`] draws
//! them.

pub mod bars;
pub mod detail;
pub mod help;
pub mod ladder;
pub mod notes;
pub mod sessions;
pub mod stats;
pub mod stream;
pub mod timeline;
