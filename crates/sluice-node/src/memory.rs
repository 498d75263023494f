//! Managed memory pools shared by every thread of the process: a parallel run's workers each
//! load this addon, but the library (and so this registry) is loaded once, so the window
//! operators of all subtasks reserve from one budget. Pools are named by the run.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::memory::{MemoryPool, MemoryPoolRef};

use crate::error::config_error;

fn pools() -> &'static Mutex<HashMap<String, MemoryPoolRef>> {
    static POOLS: OnceLock<Mutex<HashMap<String, MemoryPoolRef>>> = OnceLock::new();
    POOLS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn locked() -> Result<std::sync::MutexGuard<'static, HashMap<String, MemoryPoolRef>>> {
    pools().lock().map_err(|_| Error::new(Status::GenericFailure, "the memory pool registry is poisoned (a thread panicked)"))
}

/// The pool named `id`, made with `budget_bytes` if no thread opened it yet.
#[napi(js_name = "openMemoryPool")]
pub fn open_memory_pool(id: String, budget_bytes: f64) -> Result<()> {
    if budget_bytes.is_nan() || budget_bytes < 0.0 {
        return Err(config_error(format!("a memory budget must be >= 0 bytes, got {budget_bytes}")));
    }
    locked()?.entry(id).or_insert_with(|| MemoryPool::new(budget_bytes as u64));
    Ok(())
}

/// Drops the registry's hold on a pool (operators still holding it keep it alive).
#[napi(js_name = "closeMemoryPool")]
pub fn close_memory_pool(id: String) -> Result<()> {
    locked()?.remove(&id);
    Ok(())
}

#[napi(object)]
pub struct MemoryUse {
    pub budget: f64,
    pub used: f64,
    pub peak: f64,
}

#[napi(js_name = "memoryPoolUse")]
pub fn memory_pool_use(id: String) -> Result<Option<MemoryUse>> {
    Ok(locked()?.get(&id).map(|p| MemoryUse { budget: p.budget() as f64, used: p.used() as f64, peak: p.peak() as f64 }))
}

/// The pool an operator reserves from: the named one, or an unbounded one when none is given.
pub fn pool_for(id: Option<&str>) -> Result<MemoryPoolRef> {
    match id {
        None => Ok(MemoryPool::unbounded()),
        Some(id) => locked()?
            .get(id)
            .cloned()
            .ok_or_else(|| config_error(format!("no memory pool '{id}' is open; open it with openMemoryPool first"))),
    }
}
