//! The calc spec as the planner writes it (`ts/engine/calc-spec.ts`), read from JSON once per
//! operator and checked: types of operands, literal values, units.

use serde_json::Value;

use crate::batch::{DataType, Schema};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(String),
}

#[derive(Debug, Clone)]
pub enum Expr {
    Field { i: usize, t: DataType, nullable: bool },
    Lit { t: DataType, v: Lit },
    Call { op: String, t: DataType, nullable: bool, args: Vec<Expr>, text: String, s: Option<String>, esc: Option<char> },
}

impl Expr {
    pub fn ty(&self) -> DataType {
        match self {
            Expr::Field { t, .. } | Expr::Lit { t, .. } | Expr::Call { t, .. } => *t,
        }
    }

    pub fn nullable(&self) -> bool {
        match self {
            Expr::Field { nullable, .. } | Expr::Call { nullable, .. } => *nullable,
            Expr::Lit { v, .. } => *v == Lit::Null,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CalcSpec {
    pub name: String,
    pub filter: Option<Expr>,
    pub columns: Vec<(String, Expr)>,
}

fn bad(what: impl Into<String>) -> Error {
    Error::config(format!("calc spec: {}", what.into()))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| bad(format!("'{key}' must be a string in {v}")))
}

fn lit_of(t: DataType, v: &Value) -> Result<Lit> {
    if v.is_null() {
        return Ok(Lit::Null);
    }
    let wrong = || bad(format!("literal {v} is not a {t}"));
    Ok(match t {
        DataType::I32 => Lit::I32(v.as_i64().and_then(|x| i32::try_from(x).ok()).ok_or_else(wrong)?),
        DataType::I64 | DataType::Timestamp => Lit::I64(v.as_str().and_then(|s| s.parse().ok()).ok_or_else(wrong)?),
        DataType::F64 => match v {
            Value::String(s) if s == "NaN" => Lit::F64(f64::NAN),
            Value::String(s) if s == "Infinity" => Lit::F64(f64::INFINITY),
            Value::String(s) if s == "-Infinity" => Lit::F64(f64::NEG_INFINITY),
            _ => Lit::F64(v.as_f64().ok_or_else(wrong)?),
        },
        DataType::Bool => Lit::Bool(v.as_bool().ok_or_else(wrong)?),
        DataType::Utf8 => Lit::Str(v.as_str().ok_or_else(wrong)?.to_string()),
    })
}

fn expr_of(v: &Value, input: &Schema) -> Result<Expr> {
    let t = DataType::parse(str_of(v, "t")?)?;
    let nullable = v.get("n").and_then(Value::as_bool).unwrap_or(false);
    match str_of(v, "k")? {
        "field" => {
            let i = v.get("i").and_then(Value::as_u64).ok_or_else(|| bad("a field needs 'i'"))? as usize;
            match input.fields.get(i) {
                Some(f) if f.data_type == t => Ok(Expr::Field { i, t, nullable }),
                _ => Err(bad(format!("field {i} is not a {t} in the input"))),
            }
        }
        "lit" => Ok(Expr::Lit { t, v: lit_of(t, v.get("v").unwrap_or(&Value::Null))? }),
        "call" => {
            let op = str_of(v, "op")?.to_string();
            let args = v
                .get("args")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("a call needs 'args'"))?
                .iter()
                .map(|a| expr_of(a, input))
                .collect::<Result<Vec<_>>>()?;
            let text = str_of(v, "text")?.to_string();
            let s = v.get("s").and_then(Value::as_str).map(str::to_string);
            let esc = v.get("esc").and_then(Value::as_str).and_then(|e| e.chars().next());
            Ok(Expr::Call { op, t, nullable, args, text, s, esc })
        }
        k => Err(bad(format!("unknown node kind '{k}'"))),
    }
}

impl CalcSpec {
    pub fn from_json(json: &str, input: &Schema) -> Result<CalcSpec> {
        let v: Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let name = str_of(&v, "name")?.to_string();
        let filter = match v.get("filter") {
            None | Some(Value::Null) => None,
            Some(f) => Some(expr_of(f, input)?),
        };
        let columns = v
            .get("columns")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("'columns' must be an array"))?
            .iter()
            .map(|c| Ok((str_of(c, "name")?.to_string(), expr_of(c.get("expr").unwrap_or(&Value::Null), input)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(CalcSpec { name, filter, columns })
    }
}
