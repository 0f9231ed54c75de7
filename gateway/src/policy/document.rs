//! Parsing and validating a bucket policy document into the form `evaluate`
//! runs: action patterns as bit sets, resource patterns compiled, principals
//! resolved to key names and ids, conditions with their values parsed. Anything
//! Cairn does not know (a field, a condition key or operator, an action) makes
//! the document `MalformedPolicy`; what it knows but does not evaluate
//! (`Service` principals, binary operators, policy variables) is `NotImplemented`.
//! Nothing is ever stored and ignored.

use super::actions::ActionSet;
use super::condition::Condition;
use super::glob::Glob;
use super::PolicyError;
use serde_json::{Map, Value};

/// A parsed policy.
#[derive(Debug)]
pub struct Policy {
    pub(super) statements: Vec<Statement>,
    /// Every action some Deny (Allow) statement can apply to.
    pub(super) deny_actions: ActionSet,
    pub(super) allow_actions: ActionSet,
    /// Some condition reads `s3:ExistingObjectTag/…` (the object's tags must be
    /// read before evaluating).
    pub needs_object_tags: bool,
}

#[derive(Debug)]
pub(super) struct Statement {
    pub allow: bool,
    pub principals: Principals,
    /// `NotPrincipal`: applies to everyone `principals` does not name.
    pub not_principal: bool,
    /// `Action`, or the complement of `NotAction`.
    pub actions: ActionSet,
    /// Patterns over `BUCKET` or `BUCKET/KEY` (the ARN prefix removed).
    pub resources: Vec<Glob>,
    pub not_resource: bool,
    pub conditions: Vec<Condition>,
}

/// Who a statement names.
#[derive(Debug, Default)]
pub(super) struct Principals {
    /// `*`: everyone, anonymous included.
    pub anyone: bool,
    /// An account (`arn:aws:iam::ACCOUNT:root` or its id): every signing key.
    pub any_key: bool,
    /// Key names (`arn:aws:iam::ACCOUNT:user/NAME`).
    pub names: Vec<String>,
    /// Access key ids (a bare id or `CanonicalUser`).
    pub ids: Vec<String>,
}

fn malformed(msg: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(msg.into())
}

const ARN_S3: &str = "arn:aws:s3:::";

/// Parses and validates a policy document.
pub fn parse(text: &str) -> Result<Policy, PolicyError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| malformed(format!("Policies must be valid JSON: {e}")))?;
    let Value::Object(doc) = doc else {
        return Err(malformed("A policy must be a JSON object"));
    };
    for (field, value) in &doc {
        match (field.as_str(), value) {
            ("Version", Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
            ("Version", _) => {
                return Err(malformed(
                    "Version must be \"2012-10-17\" or \"2008-10-17\"",
                ))
            }
            ("Id", Value::String(_)) => {}
            ("Statement", _) => {}
            (other, _) => return Err(malformed(format!("Unknown or mistyped field {other}"))),
        }
    }
    let statements: Vec<Statement> = match doc.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => {
            a.iter().map(statement).collect::<Result<_, _>>()?
        }
        Some(s @ Value::Object(_)) => vec![statement(s)?],
        Some(_) => {
            return Err(malformed(
                "Statement must be an object or a non-empty array of objects",
            ))
        }
        None => return Err(malformed("Missing required field Statement")),
    };
    let union = |allow: bool| {
        statements
            .iter()
            .filter(|s| s.allow == allow)
            .fold(ActionSet::default(), |acc, s| acc.union(s.actions))
    };
    Ok(Policy {
        deny_actions: union(false),
        allow_actions: union(true),
        needs_object_tags: statements.iter().any(|s| {
            s.conditions
                .iter()
                .any(|c| matches!(c.key, super::context::Key::ExistingObjectTag(_)))
        }),
        statements,
    })
}

fn statement(value: &Value) -> Result<Statement, PolicyError> {
    let Value::Object(s) = value else {
        return Err(malformed("Each statement must be a JSON object"));
    };
    for field in s.keys() {
        match field.as_str() {
            "Sid" | "Effect" | "Principal" | "NotPrincipal" | "Action" | "NotAction"
            | "Resource" | "NotResource" | "Condition" => {}
            other => return Err(malformed(format!("Unknown field {other} in a statement"))),
        }
    }
    if s.get("Sid").is_some_and(|v| !v.is_string()) {
        return Err(malformed("Sid must be a string"));
    }
    let allow = match s.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => true,
        Some(Value::String(e)) if e == "Deny" => false,
        Some(other) => return Err(malformed(format!("Invalid effect: {other}"))),
        None => return Err(malformed("Missing required field Effect")),
    };
    let (principal_field, not_principal) = one_of(s, "Principal", "NotPrincipal")?;
    let principals = principals(principal_field)?;
    let (action_field, not_action) = one_of(s, "Action", "NotAction")?;
    let mut actions = ActionSet::default();
    for a in string_list(
        action_field,
        if not_action { "NotAction" } else { "Action" },
    )? {
        let set = ActionSet::of_pattern(a);
        if set.is_empty() {
            return Err(malformed(format!("Policy has invalid action: {a}")));
        }
        actions = actions.union(set);
    }
    if not_action {
        actions = actions.complement();
    }
    let (resource_field, not_resource) = one_of(s, "Resource", "NotResource")?;
    let mut resources = Vec::new();
    for r in string_list(resource_field, "Resource")? {
        if r.contains("${") {
            return Err(PolicyError::Unsupported(format!(
                "Policy variables are not evaluated by Cairn: {r}"
            )));
        }
        let pattern = match r {
            "*" => "*",
            _ => r
                .strip_prefix(ARN_S3)
                .filter(|p| !p.is_empty())
                .ok_or_else(|| malformed(format!("Policy has invalid resource: {r}")))?,
        };
        resources.push(Glob::new(pattern));
    }
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(c) => conditions(c)?,
    };
    Ok(Statement {
        allow,
        principals,
        not_principal,
        actions,
        resources,
        not_resource,
        conditions,
    })
}

/// The field that is there of `plain` and `not` (exactly one must be), and
/// whether it was `not`.
fn one_of<'a>(
    s: &'a Map<String, Value>,
    plain: &str,
    not: &str,
) -> Result<(&'a Value, bool), PolicyError> {
    match (s.get(plain), s.get(not)) {
        (Some(v), None) => Ok((v, false)),
        (None, Some(v)) => Ok((v, true)),
        (Some(_), Some(_)) => Err(malformed(format!(
            "A statement cannot have both {plain} and {not}"
        ))),
        (None, None) => Err(malformed(format!("Missing required field {plain}"))),
    }
}

fn principals(value: &Value) -> Result<Principals, PolicyError> {
    let mut p = Principals::default();
    match value {
        Value::String(s) if s == "*" => p.anyone = true,
        Value::Object(kinds) if !kinds.is_empty() => {
            for (kind, who) in kinds {
                let who = strings(who).filter(|w| !w.is_empty()).ok_or_else(|| {
                    malformed(format!("Principal {kind} must be a string or strings"))
                })?;
                match kind.as_str() {
                    "AWS" => {
                        for w in who {
                            aws_principal(&mut p, w)?;
                        }
                    }
                    "CanonicalUser" => p.ids.extend(who.iter().map(|w| w.to_string())),
                    "Service" | "Federated" => {
                        return Err(PolicyError::Unsupported(format!(
                            "{kind} principals are not evaluated by Cairn"
                        )))
                    }
                    _ => return Err(malformed("Invalid principal in policy")),
                }
            }
        }
        _ => return Err(malformed("Invalid principal in policy")),
    }
    Ok(p)
}

fn aws_principal(p: &mut Principals, w: &str) -> Result<(), PolicyError> {
    if w == "*" {
        p.anyone = true;
    } else if let Some(rest) = w.strip_prefix("arn:aws:iam::") {
        let (account, resource) = rest
            .split_once(':')
            .ok_or_else(|| malformed(format!("Invalid principal in policy: {w}")))?;
        if account.is_empty() {
            return Err(malformed(format!("Invalid principal in policy: {w}")));
        }
        if resource == "root" {
            p.any_key = true;
        } else if let Some(user) = resource.strip_prefix("user/") {
            // `user/PATH/NAME`: the name is the last segment.
            let name = user.rsplit('/').next().unwrap_or(user);
            if name.is_empty() {
                return Err(malformed(format!("Invalid principal in policy: {w}")));
            }
            p.names.push(name.to_string());
        } else {
            return Err(PolicyError::Unsupported(format!(
                "Principal {w}: Cairn has keys (user/NAME) and the account (root), no roles"
            )));
        }
    } else if w.starts_with("arn:") {
        return Err(malformed(format!("Invalid principal in policy: {w}")));
    } else if w.len() == 12 && w.bytes().all(|b| b.is_ascii_digit()) {
        p.any_key = true;
    } else {
        p.ids.push(w.to_string());
    }
    Ok(())
}

fn conditions(value: &Value) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = value else {
        return Err(malformed("Condition must be an object of operators"));
    };
    let mut out = Vec::new();
    for (op, keys) in ops {
        let Value::Object(keys) = keys else {
            return Err(malformed(format!(
                "Condition {op} must be an object of keys"
            )));
        };
        for (key, values) in keys {
            let values = condition_values(values).ok_or_else(|| {
                malformed(format!(
                    "Condition {op} on {key}: values must be strings, numbers or booleans"
                ))
            })?;
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            out.push(Condition::parse(op, key, &refs)?);
        }
    }
    Ok(out)
}

/// A condition's values: a scalar or an array of scalars, as strings.
fn condition_values(v: &Value) -> Option<Vec<String>> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Array(a) => a.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn string_list<'a>(value: &'a Value, field: &str) -> Result<Vec<&'a str>, PolicyError> {
    match strings(value) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(malformed(format!(
            "{field} must be a string or a non-empty array of strings"
        ))),
    }
}

/// A string or an array of strings.
fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    }
}
