//! AWS's evaluation of a bucket policy for one request: a Deny statement that
//! applies decides (explicit deny), otherwise an Allow statement that applies
//! allows, otherwise the policy says nothing and grants and ACLs decide. A
//! statement applies when its action set has the request's action (one bit
//! test; most statements stop here), its principal names the requester, a
//! resource pattern matches the request's bucket or object, and every condition
//! holds.

use super::actions::Action;
use super::context::Context;
use super::document::{Policy, Statement};

/// What a request asks of a bucket policy.
pub struct Request<'a> {
    pub action: Action,
    pub bucket: &'a str,
    /// The object key (object-level operations).
    pub key: Option<&'a str>,
    pub cx: Context<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An explicit Deny applies.
    Deny,
    /// An Allow applies and no Deny does.
    Allow,
    /// No statement applies.
    Silent,
}

impl Policy {
    /// The policy's decision on `req`.
    pub fn decide(&self, req: &Request<'_>) -> Decision {
        if self.denies(req) {
            Decision::Deny
        } else if self.allows(req) {
            Decision::Allow
        } else {
            Decision::Silent
        }
    }

    /// Whether a Deny statement applies to `req`.
    pub fn denies(&self, req: &Request<'_>) -> bool {
        self.deny_actions.contains(req.action)
            && self.statements.iter().any(|s| !s.allow && s.applies(req))
    }

    /// Whether an Allow statement applies to `req` (Deny statements not looked at).
    pub fn allows(&self, req: &Request<'_>) -> bool {
        self.allow_actions.contains(req.action)
            && self.statements.iter().any(|s| s.allow && s.applies(req))
    }

    /// Whether a statement that could apply to `req` (its action, principal and
    /// resource match) has a condition on the object's tags: only then are they
    /// read.
    pub fn needs_object_tags(&self, req: &Request<'_>) -> bool {
        self.needs_object_tags
            && self.statements.iter().any(|s| {
                s.conditions
                    .iter()
                    .any(|c| matches!(c.key, super::context::Key::ExistingObjectTag(_)))
                    && s.actions.contains(req.action)
                    && s.names(req)
                    && s.covers(req)
            })
    }

    /// Whether AWS would call the policy public: an Allow statement for everyone
    /// (`*` or a `NotPrincipal`) without a condition that pins it to fixed
    /// source addresses or users.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            s.allow
                && (s.principals.anyone || s.not_principal)
                && !s.conditions.iter().any(|c| c.restricts_public())
        })
    }
}

impl Statement {
    fn applies(&self, req: &Request<'_>) -> bool {
        self.actions.contains(req.action)
            && self.names(req)
            && self.covers(req)
            && self.conditions.iter().all(|c| c.holds(&req.cx))
    }

    fn names(&self, req: &Request<'_>) -> bool {
        let p = &self.principals;
        let named = p.anyone
            || req.cx.who.is_some_and(|w| {
                p.any_key
                    || p.ids.iter().any(|id| id == w.access_key)
                    || p.names.iter().any(|n| n == w.name)
            });
        named != self.not_principal
    }

    fn covers(&self, req: &Request<'_>) -> bool {
        let hit = self
            .resources
            .iter()
            .any(|r| r.matches_parts(req.bucket, req.key));
        hit != self.not_resource
    }
}
