//! One writer for every measure's rows: a table of named columns, written as CSV (numbers in
//! full precision, NaN as an empty field) or as JSON (an array of objects, NaN as null), chosen
//! by the file's extension, atomically. The CLI and the pipeline both write through it, so a
//! measure has one set of columns wherever it runs.

use std::path::Path;

use crate::error::{Error, Result};
use crate::output::{csv_field, csv_number, write_file};

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// NaN and infinities are written as empty (CSV) or null (JSON).
    Num(f64),
    Int(usize),
    Bool(bool),
}

impl Cell {
    pub fn text(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }

    pub fn num(v: f64) -> Cell {
        Cell::Num(v)
    }

    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => csv_field(s),
            Cell::Num(v) => csv_number(v.is_finite().then_some(*v)),
            Cell::Int(i) => i.to_string(),
            Cell::Bool(b) => b.to_string(),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Cell::Text(s) => s.clone().into(),
            Cell::Num(v) => {
                serde_json::Number::from_f64(*v).map_or(serde_json::Value::Null, Into::into)
            }
            Cell::Int(i) => (*i).into(),
            Cell::Bool(b) => (*b).into(),
        }
    }
}

/// Rows under named columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(columns: Vec<String>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Appends a row (one cell per column).
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// Appends the rows of `other`, which has the same columns.
    pub fn extend(&mut self, other: Table) -> Result<()> {
        if other.columns != self.columns {
            return Err(Error::Invalid(format!(
                "cannot join tables with columns {:?} and {:?}",
                self.columns, other.columns
            )));
        }
        self.rows.extend(other.rows);
        Ok(())
    }

    pub fn csv(&self) -> String {
        let mut s = self
            .columns
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",");
        s.push('\n');
        for r in &self.rows {
            s += &r.iter().map(Cell::csv).collect::<Vec<_>>().join(",");
            s.push('\n');
        }
        s
    }

    /// An array of objects keyed by column.
    pub fn json(&self) -> serde_json::Value {
        self.rows
            .iter()
            .map(|r| {
                let obj: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| (c.clone(), v.json()))
                    .collect();
                serde_json::Value::Object(obj)
            })
            .collect()
    }

    /// Writes `path` as CSV or JSON by its extension (atomically); any other extension is a
    /// usage error.
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = match format_of(path)? {
            Format::Csv => self.csv().into_bytes(),
            Format::Json => serde_json::to_vec_pretty(&self.json())?,
        };
        write_file(path, &bytes)
    }
}

/// What a results file is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// The format of `path` by its extension (`.csv`, `.json`); anything else is a usage error.
pub fn format_of(path: &Path) -> Result<Format> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => Ok(Format::Csv),
        Some(e) if e.eq_ignore_ascii_case("json") => Ok(Format::Json),
        _ => Err(Error::Invalid(format!(
            "{}: the results file must end in .csv or .json",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_agree_and_nan_is_empty_or_null() {
        let mut t = Table::new(vec!["name".into(), "value".into(), "n".into(), "ok".into()]);
        t.push(vec![
            Cell::text("a,b"),
            Cell::num(0.25),
            Cell::Int(3),
            Cell::Bool(true),
        ]);
        t.push(vec![
            Cell::text("c"),
            Cell::num(f64::NAN),
            Cell::Int(0),
            Cell::Bool(false),
        ]);
        assert_eq!(
            t.csv(),
            "name,value,n,ok\n\"a,b\",0.25,3,true\nc,,0,false\n"
        );
        let j = t.json();
        assert_eq!(j[0]["value"], 0.25);
        assert!(j[1]["value"].is_null());
        assert_eq!(j[1]["name"], "c");
        assert!(format_of(Path::new("x.txt")).unwrap_err().is_usage());
    }
}
