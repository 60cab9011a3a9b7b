//! kube-openapi's validation results (`validate.Result` with its `errors.Validation` codes and
//! messages) and their translation into field errors as apiextensions does it
//! (`kubeOpenAPIResultToFieldErrors`).

use serde_json::Value;

use super::super::errors::{FieldError, FieldPath};
use crate::gofmt;

/// kube-openapi's validation error codes (errors/schema.go).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Code {
    InvalidType,
    Required,
    TooLong,
    TooShort,
    Pattern,
    Enum,
    MultipleOf,
    Max,
    Min,
    Unique,
    MaxItems,
    MinItems,
    TooFewProperties,
    TooManyProperties,
    UnallowedProperty,
    MultipleOfMustBePositive,
}

/// An error in a kube-openapi `Result`: an `*errors.Validation`, or a plain error (composite checks).
#[derive(Clone, Debug)]
pub(super) enum OErr {
    Validation {
        code: Code,
        name: String,
        /// `Validation.Value`; `None` is Go's nil.
        value: Option<Value>,
        /// `Validation.Valid` when it is an int64.
        valid: Option<i64>,
        values: Vec<Value>,
        message: String,
    },
    Plain(String),
}

impl OErr {
    pub(super) fn message(&self) -> &str {
        match self {
            OErr::Validation { message, .. } | OErr::Plain(message) => message,
        }
    }

    pub(super) fn validation(
        code: Code,
        name: &str,
        value: Option<Value>,
        message: String,
    ) -> Self {
        OErr::Validation {
            code,
            name: name.to_string(),
            value,
            valid: None,
            values: Vec::new(),
            message,
        }
    }
}

/// `validate.Result`.
#[derive(Debug, Default)]
pub(super) struct OResult {
    pub(super) errors: Vec<OErr>,
    pub(super) match_count: usize,
}

impl OResult {
    pub(super) fn err(e: OErr) -> Self {
        OResult {
            errors: vec![e],
            match_count: 0,
        }
    }

    /// `AddErrors`: an error whose message was already reported is dropped.
    pub(super) fn add(&mut self, e: OErr) {
        if !self.errors.iter().any(|x| x.message() == e.message()) {
            self.errors.push(e);
        }
    }

    pub(super) fn merge(&mut self, other: OResult) {
        for e in other.errors {
            self.add(e);
        }
        self.match_count += other.match_count;
    }

    pub(super) fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

pub(super) fn with_in(name: &str, tail: String) -> String {
    format!("{name} in body {tail}")
}

pub(super) fn invalid_type(name: &str, type_name: &str, value: &str) -> OErr {
    OErr::validation(
        Code::InvalidType,
        name,
        Some(Value::String(value.to_string())),
        with_in(
            name,
            format!("must be of type {type_name}: {}", gofmt::quote(value)),
        ),
    )
}

/// `kubeOpenAPIResultToFieldErrors`.
pub(super) fn to_field_errors(fld_path: &FieldPath, result: OResult) -> Vec<FieldError> {
    result
        .errors
        .into_iter()
        .map(|e| match e {
            OErr::Plain(message) => {
                FieldError::invalid(fld_path.render(), Value::String(String::new()), message)
            }
            OErr::Validation {
                code,
                name,
                value,
                valid,
                values,
                message,
            } => {
                let err_path = if name.is_empty() || name == "." {
                    fld_path.clone()
                } else {
                    fld_path.child(name.strip_prefix('.').unwrap_or(&name))
                };
                let field = err_path.render();
                let int = |v: &Option<Value>| v.as_ref().and_then(Value::as_i64).unwrap_or(-1);
                let or_empty = |v: Option<Value>| v.unwrap_or(Value::String(String::new()));
                match code {
                    Code::Required => FieldError::required(field, ""),
                    Code::Enum => {
                        let allowed: Vec<String> = values
                            .iter()
                            .map(|v| match v {
                                Value::String(s) => s.clone(),
                                other => gofmt::json(other),
                            })
                            .collect();
                        FieldError::not_supported(field, value.unwrap_or(Value::Null), &allowed)
                    }
                    Code::TooLong => FieldError::too_long(field, valid.unwrap_or(-1)),
                    Code::MaxItems | Code::TooManyProperties => {
                        FieldError::too_many(field, int(&value), valid.unwrap_or(-1))
                    }
                    Code::InvalidType => FieldError::type_invalid(field, or_empty(value), message),
                    _ => FieldError::invalid(field, or_empty(value), message),
                }
            }
        })
        .collect()
}
