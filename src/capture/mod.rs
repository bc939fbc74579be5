//! Capture sources (owned by the capture helper; placeholder).
