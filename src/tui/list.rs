//! Lists and cursors: a [`Scroll`] (selected and first visible position),
//! a [`RowList`] (the row ids a view shows) and the display filter in
//! force ([`ActiveFilter`]) that narrows row lists.

use super::index::{Bits, Chunked, Index, RowKind};

/// A list cursor: selected position and first visible position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scroll {
    pub sel: usize,
    pub offset: usize,
}

impl Scroll {
    /// Keeps `sel` in `[0, len)` and visible in `height` lines.
    pub fn fit(&mut self, len: usize, height: usize) {
        self.sel = self.sel.min(len.saturating_sub(1));
        let h = height.max(1);
        if self.sel < self.offset {
            self.offset = self.sel;
        } else if self.sel >= self.offset + h {
            self.offset = self.sel + 1 - h;
        }
        self.offset = self.offset.min(len.saturating_sub(h));
    }

    pub fn move_by(&mut self, delta: isize, len: usize) {
        let cur = self.sel as isize + delta;
        self.sel = cur.clamp(0, len.saturating_sub(1) as isize) as usize;
    }
}

/// What the timeline (or the ladder) shows: all rows, or those of one
/// session and/or those matching the filter. Row ids are kept only when
/// something is left out.
#[derive(Debug, Default)]
pub struct RowList {
    pub session: Option<u32>,
    pub filtered: bool,
    ids: Chunked<u32>,
    /// Rows examined so far.
    frontier: usize,
}

impl RowList {
    pub fn new(session: Option<u32>, filtered: bool, start: usize) -> RowList {
        RowList {
            session,
            filtered,
            ids: Chunked::new(),
            frontier: start,
        }
    }

    fn identity(&self) -> bool {
        self.session.is_none() && !self.filtered
    }

    pub fn len(&self) -> usize {
        if self.identity() {
            self.frontier
        } else {
            self.ids.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row id at position `pos`.
    pub fn get(&self, pos: usize) -> usize {
        if self.identity() {
            pos
        } else {
            self.ids.get(pos) as usize
        }
    }

    /// Position of row `id`, or of the first row after it.
    pub fn position(&self, id: usize) -> usize {
        if self.identity() {
            id.min(self.frontier)
        } else {
            self.ids.lower_bound(id.min(u32::MAX as usize) as u32)
        }
    }

    /// Position of row `id` when listed.
    pub fn find(&self, id: usize) -> Option<usize> {
        let p = self.position(id);
        (p < self.len() && self.get(p) == id).then_some(p)
    }

    /// Examines the rows of `index` up to `limit` (those the filter has
    /// decided, when filtered).
    pub fn extend(&mut self, index: &Index, limit: usize, filter: Option<&ActiveFilter>) {
        let limit = if self.filtered {
            limit.min(filter.map(|f| f.scanned as usize).unwrap_or(0))
        } else {
            limit
        };
        if self.identity() {
            self.frontier = self.frontier.max(limit);
            return;
        }
        while self.frontier < limit {
            let id = self.frontier;
            let row = index.row(id);
            let ok = self.session.is_none_or(|s| row.session == s)
                && (!self.filtered
                    || (row.kind() == RowKind::Message && filter.is_some_and(|f| f.bits.get(id))));
            if ok {
                self.ids.push(id as u32);
            }
            self.frontier += 1;
        }
    }

    /// Bytes allocated.
    pub fn memory(&self) -> usize {
        self.ids.memory()
    }
}

/// The display filter in force.
#[derive(Debug)]
pub struct ActiveFilter {
    pub expr: String,
    pub gen: u64,
    /// Matching row ids.
    pub bits: Bits,
    /// Rows decided so far.
    pub scanned: u64,
    pub matches: u64,
    pub done: bool,
    pub error: Option<String>,
}
