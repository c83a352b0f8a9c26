//! The syntax inside one `defer!`: `{ stmts }` or `(|outcome| body)`, either after
//! `timeout = EXPR =>`. The statements are never parsed: they reach the output as the user
//! wrote them, so a syntax error in them is rustc's own, on the user's token, and an editor
//! keeps every token while the block is being typed (tracing-attributes' speculative path).

use proc_macro2::{Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens as _;
use syn::parse::discouraged::Speculative as _;
use syn::parse::{ParseStream, Parser as _};
use syn::{Expr, ExprClosure, Token};

pub enum DeferForm {
    /// `defer! { .. }`: runs when the response completed. Its statements, as written.
    Completed(TokenStream),
    /// `defer!(|outcome| ..)`: runs always. The closure's attributes and parameter, and the
    /// statements of its body (a `{ .. }` body is unwrapped, so no block is left alone inside
    /// the generated `async move`).
    Always {
        attrs: TokenStream,
        param: TokenStream,
        body: TokenStream,
    },
}

pub struct DeferInput {
    pub timeout: Option<Expr>,
    pub form: DeferForm,
}

/// `span` is the `defer!`'s, for errors about the call as a whole.
pub fn parse(tokens: TokenStream, span: Span) -> syn::Result<DeferInput> {
    (|input: ParseStream| {
        if input.peek(Token![@]) {
            // `defer!(@__after_response ..)`: what a first `#[after_response]` left.
            return Err(syn::Error::new(
                span,
                "`#[after_response]` is applied twice to this function: remove one of them",
            ));
        }
        let timeout = parse_timeout(input)?;
        let rest: TokenStream = input.parse()?;
        Ok(DeferInput {
            timeout,
            form: form(rest)?,
        })
    })
    .parse2(tokens)
}

/// How the contents start: only a closure head (`|`, `||`, `async |`, `move |`) may be the
/// `|outcome|` form; `async move { .. }.await` and other statements are a block.
#[derive(PartialEq)]
enum Head {
    /// `|..`, `||`, `async |..`, `async move |..`: meant as the closure form.
    Closure,
    /// `move |..`: the closure form if a closure is all there is, else a block that starts
    /// with a closure expression.
    MoveClosure,
    Block,
}

fn head(tokens: &[TokenTree]) -> Head {
    let is_bar =
        |i: usize| matches!(tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == '|');
    let is_word =
        |i: usize, word: &str| matches!(tokens.get(i), Some(TokenTree::Ident(w)) if w == word);
    if is_bar(0) || is_word(0, "async") && (is_bar(1) || is_word(1, "move") && is_bar(2)) {
        Head::Closure
    } else if is_word(0, "move") && is_bar(1) {
        Head::MoveClosure
    } else {
        Head::Block
    }
}

fn form(rest: TokenStream) -> syn::Result<DeferForm> {
    let tokens: Vec<TokenTree> = rest.clone().into_iter().collect();
    let head = head(&tokens);
    if head == Head::Block {
        return Ok(DeferForm::Completed(rest));
    }
    let parsed = (|input: ParseStream| {
        let closure: ExprClosure = input.parse()?;
        let trailing = (!input.is_empty()).then(|| input.span());
        input.parse::<TokenStream>()?;
        Ok((closure, trailing))
    })
    .parse2(rest.clone());
    match (parsed, head) {
        (Ok((closure, None)), _) => always(&closure),
        (Ok(_) | Err(_), Head::MoveClosure) => Ok(DeferForm::Completed(rest)),
        (Ok((_, Some(trailing))), _) => Err(syn::Error::new(
            trailing,
            "unexpected tokens after the `|outcome| { .. }` closure",
        )),
        // A syntax error inside the closure: keep its tokens, in the shape the registration
        // gives them, so that rustc reports the error itself and the parameter keeps its type.
        (Err(_), _) => Ok(speculative_closure(&tokens)),
    }
}

fn always(closure: &ExprClosure) -> syn::Result<DeferForm> {
    check_closure(closure)?;
    let mut attrs = TokenStream::new();
    for attr in &closure.attrs {
        attr.to_tokens(&mut attrs);
    }
    let body = match &*closure.body {
        Expr::Block(block) if block.label.is_none() && block.attrs.is_empty() => {
            let mut stmts = TokenStream::new();
            for stmt in &block.block.stmts {
                stmt.to_tokens(&mut stmts);
            }
            stmts
        }
        body => body.to_token_stream(),
    };
    Ok(DeferForm::Always {
        attrs,
        param: closure.inputs.to_token_stream(),
        body,
    })
}

/// `|param| body` as written, split at the bars; anything before the first bar (`async`,
/// `move`) is dropped, since the registration adds its own `move`.
fn speculative_closure(tokens: &[TokenTree]) -> DeferForm {
    let bar = |token: &TokenTree| matches!(token, TokenTree::Punct(p) if p.as_char() == '|');
    let first = tokens.iter().position(bar).unwrap_or(0);
    let joint = matches!(&tokens[first], TokenTree::Punct(p) if p.spacing() == Spacing::Joint)
        && tokens.get(first + 1).is_some_and(bar);
    let close = if joint {
        first + 1
    } else {
        tokens[first + 1..]
            .iter()
            .position(bar)
            .map_or(tokens.len(), |i| first + 1 + i)
    };
    let param = tokens[first + 1..close].iter().cloned().collect();
    let body = tokens
        .get(close + 1..)
        .unwrap_or_default()
        .iter()
        .cloned()
        .collect();
    DeferForm::Always {
        attrs: TokenStream::new(),
        param,
        body,
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
    if let Expr::Async(block) = &*closure.body {
        return Err(syn::Error::new(
            block.async_token.span,
            "drop the `async move`: write `defer!(|outcome| { .. })`, whose body already runs \
             as an `async move` block (it may `.await`)",
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
