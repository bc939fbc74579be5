//! Link/IP/TCP decoding (placeholder).
