//! The syntax inside one `defer!`: `{ stmts }`, `(|outcome| body)`, either after
//! `timeout = EXPR =>`.

use syn::parse::discouraged::Speculative as _;
use syn::parse::{Parse, ParseStream};
use syn::{Block, Expr, ExprClosure, Stmt, Token};

pub enum DeferForm {
    /// `defer! { .. }`: runs when the response completed. Its statements.
    Completed(Vec<Stmt>),
    /// `defer!(|outcome| ..)`: runs always.
    Always(Box<ExprClosure>),
}

pub struct DeferInput {
    pub timeout: Option<Expr>,
    pub form: DeferForm,
}

impl Parse for DeferInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![@]) {
            // `defer!(@__after_response ..)`: what a first `#[after_response]` left.
            return Err(input.error(
                "`#[after_response]` is applied twice to this function: remove one of them",
            ));
        }
        let timeout = parse_timeout(input)?;
        let is_closure = input.peek(Token![|])
            || input.peek(Token![||])
            || input.peek(Token![move])
            || input.peek(Token![async])
                && (input.peek2(Token![|]) || input.peek2(Token![||]) || input.peek2(Token![move]));
        let form = if is_closure {
            let closure: ExprClosure = input.parse()?;
            check_closure(&closure)?;
            if !input.is_empty() {
                return Err(input.error("unexpected tokens after the `|outcome| { .. }` closure"));
            }
            DeferForm::Always(Box::new(closure))
        } else {
            DeferForm::Completed(Block::parse_within(input)?)
        };
        Ok(Self { timeout, form })
    }
}

/// `timeout = EXPR =>`, told apart from a block that starts with an assignment to a local
/// called `timeout` by the `=>` that no statement can contain.
fn parse_timeout(input: ParseStream) -> syn::Result<Option<Expr>> {
    let is_option = input
        .fork()
        .parse::<syn::Ident>()
        .is_ok_and(|ident| ident == "timeout")
        && input.peek2(Token![=])
        && !input.peek2(Token![==])
        && !input.peek2(Token![=>]);
    if !is_option {
        return Ok(None);
    }
    let fork = input.fork();
    fork.parse::<syn::Ident>()?;
    fork.parse::<Token![=]>()?;
    let Ok(timeout) = fork.parse::<Expr>() else {
        return Ok(None);
    };
    if fork.peek(syn::token::Brace) {
        // No statement continues `timeout = EXPR` with a block: the `=>` was forgotten.
        return Err(fork.error(
            "expected `=>` between the timeout and the block: \
             `defer!(timeout = DURATION => { .. })`",
        ));
    }
    if !fork.peek(Token![=>]) {
        return Ok(None);
    }
    fork.parse::<Token![=>]>()?;
    input.advance_to(&fork);
    Ok(Some(timeout))
}

fn check_closure(closure: &ExprClosure) -> syn::Result<()> {
    if closure.inputs.len() != 1 {
        let message =
            "`defer!(|outcome| { .. })` takes exactly one parameter: the request's `Outcome`";
        return Err(if closure.inputs.is_empty() {
            // `||` or `| |`: point at the bars.
            syn::Error::new(closure.or1_token.span, message)
        } else {
            syn::Error::new_spanned(&closure.inputs, message)
        });
    }
    if let Some(asyncness) = &closure.asyncness {
        return Err(syn::Error::new(
            asyncness.span,
            "write `defer!(|outcome| { .. })` without `async`: the body is already run as an `async move` block",
        ));
    }
    if let syn::ReturnType::Type(arrow, _) = &closure.output {
        return Err(syn::Error::new(
            arrow.spans[0],
            "`defer!(|outcome| ..)` takes no return type: the block may end in `()` or `Result<(), E>`",
        ));
    }
    Ok(())
}
