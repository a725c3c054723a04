//! The Fieldsync server: the sync endpoint devices talk to, the dispatcher API, sign-in, and
//! the storage behind them.

pub mod storage;
