//! The compiled expression and its evaluation.

use super::fields::Acc;
use super::value::{compare, Lit, Op, V};
use crate::record::MessageRecord;

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// The field is present (at least one value).
    Exists(Acc),
    /// The field is present and true (boolean fields used alone).
    Truth(Acc),
    /// Some value of the field satisfies `OP lit`. For `!=`: the field is
    /// present and no value equals `lit`.
    Cmp(Acc, Op, Lit),
    /// Some value of the field equals one of the literals.
    In(Acc, Vec<Lit>),
}

impl Expr {
    pub fn eval(&self, r: &MessageRecord<'_>) -> bool {
        match self {
            Expr::And(items) => items.iter().all(|e| e.eval(r)),
            Expr::Or(items) => items.iter().any(|e| e.eval(r)),
            Expr::Not(e) => !e.eval(r),
            Expr::Exists(acc) => acc.visit(r, &mut |_| true),
            Expr::Truth(acc) => acc.visit(r, &mut |v| matches!(v, V::Bool(true))),
            Expr::Cmp(acc, Op::Ne, lit) => {
                let mut present = false;
                let equal = acc.visit(r, &mut |v| {
                    present = true;
                    compare(v, Op::Eq, lit)
                });
                present && !equal
            }
            Expr::Cmp(acc, op, lit) => acc.visit(r, &mut |v| compare(v, *op, lit)),
            Expr::In(acc, lits) => {
                acc.visit(r, &mut |v| lits.iter().any(|l| compare(v, Op::Eq, l)))
            }
        }
    }
}
