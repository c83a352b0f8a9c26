//! Shapes only edition 2024 has.
