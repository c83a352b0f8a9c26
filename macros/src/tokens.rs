//! Finds `defer!` in raw tokens: inside other macros' input (`tokio::select!`, ..) and in a
//! body that does not parse. Same registrations as the syntax-tree rewrite; a nested
//! `fn name .. { .. }` is copied untouched.

use proc_macro2::{Delimiter, Group, Ident, Spacing, TokenStream, TokenTree};
use quote::quote;

use crate::defer::DeferInput;
use crate::register::Registrar;

/// `enclosing` is the delimiter around `input`: in braces a `defer!` may be a statement, in
/// parentheses or brackets (call arguments, `vec![..]`) it is an expression.
pub fn rewrite(
    input: TokenStream,
    enclosing: Delimiter,
    registrar: &mut Registrar<'_>,
) -> TokenStream {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Ident(ident) if ident == "fn" && is_ident(tokens.get(i + 1)) => {
                // A nested function item: copy it, body included, as written.
                while i < tokens.len() {
                    let end = is_body(&tokens[i]) || is_punct(Some(&tokens[i]), ';');
                    out.push(tokens[i].clone());
                    i += 1;
                    if end {
                        break;
                    }
                }
                continue;
            }
            TokenTree::Ident(ident)
                if is_punct(tokens.get(i + 1), '!') && is_defer_call(&out, ident, registrar) =>
            {
                if let Some(TokenTree::Group(group)) = tokens.get(i + 2) {
                    out.push(tokens[i].clone());
                    out.push(tokens[i + 1].clone());
                    let statement = enclosing == Delimiter::Brace
                        && !matches!(
                            tokens.get(i + 3),
                            Some(TokenTree::Punct(p)) if ";,.?".contains(p.as_char())
                        );
                    out.push(TokenTree::Group(replace(group, statement, registrar)));
                    i += 3;
                    continue;
                }
            }
            TokenTree::Group(group) => {
                let before = registrar.found;
                let stream = rewrite(group.stream(), group.delimiter(), registrar);
                // A group without `defer!` is kept as it came, delimiter spans included.
                if registrar.found > before {
                    let mut new = Group::new(group.delimiter(), stream);
                    new.set_span(group.span());
                    out.push(TokenTree::Group(new));
                    i += 1;
                    continue;
                }
            }
            _ => {}
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out.into_iter().collect()
}

/// `{ .. }` of one `defer!` becomes `{ @__after_response <registration> }`, same delimiter (so
/// a statement needs no `;`, as before). In braces, a call not followed by `;`, `,`, `.` or `?`
/// is a statement: its handle is discarded, as in the syntax-tree rewrite.
fn replace(group: &Group, statement: bool, registrar: &mut Registrar<'_>) -> Group {
    let contents = syn::parse2::<DeferInput>(group.stream());
    let registration = registrar.registration(contents, group.span_open());
    let registration = if statement {
        quote!({ #registration; })
    } else {
        registration
    };
    let mut new = Group::new(group.delimiter(), quote!(@__after_response #registration));
    new.set_span(group.span());
    new
}

/// `defer` alone, or `<parent>::defer` (see `Registrar::is_defer_path`); `out` holds the
/// tokens already seen, so the parent is found by looking back.
fn is_defer_call(out: &[TokenTree], last: &Ident, registrar: &Registrar<'_>) -> bool {
    let n = out.len();
    let after_colons = n >= 2 && is_joint_colon(&out[n - 2]) && is_punct(Some(&out[n - 1]), ':');
    if !after_colons {
        // `x.defer!()` is not a macro call; anything else before a bare `defer!` is.
        return !is_punct(out.last(), '.') && registrar.is_defer_path(None, last);
    }
    match out.get(n.wrapping_sub(3)) {
        Some(TokenTree::Ident(parent)) if n >= 3 => registrar.is_defer_path(Some(parent), last),
        _ => false,
    }
}

fn is_joint_colon(token: &TokenTree) -> bool {
    matches!(token, TokenTree::Punct(p) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
}

fn is_punct(token: Option<&TokenTree>, c: char) -> bool {
    matches!(token, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

fn is_ident(token: Option<&TokenTree>) -> bool {
    matches!(token, Some(TokenTree::Ident(_)))
}

fn is_body(token: &TokenTree) -> bool {
    matches!(token, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace)
}
