//! The one finder: every `defer!` of a handler body, found in its tokens, so that a `defer!` in
//! plain code, inside another macro's input (`vec!`, `tokio::select!`, `json!`) or in a body
//! that does not parse gets the same registration and the same checks. A nested
//! `fn name .. { .. }` is copied untouched: it is another function.

use proc_macro2::{Delimiter, Group, Ident, Spacing, Span, TokenStream, TokenTree};
use quote::quote;

use crate::register::Registrar;

/// Calls that run their argument on another task or thread, or after the response has left:
/// a `defer!` in their arguments could register too late. `spawn` is checked as a function
/// (`tokio::spawn`, `std::thread::spawn`) and as a method (`JoinSet::spawn`).
const SPAWNS: [&str; 3] = ["spawn", "spawn_blocking", "spawn_local"];

/// axum's `WebSocketUpgrade::on_upgrade`: its callback serves the upgraded connection, after
/// the `101 Switching Protocols` response has left.
const ON_UPGRADE: &str = "on_upgrade";

pub struct Finder<'r, 'a> {
    registrar: &'r mut Registrar<'a>,
    /// Inside the arguments of this spawn-like call, as written (`tokio::spawn`).
    spawn: Option<String>,
}

impl<'r, 'a> Finder<'r, 'a> {
    pub fn new(registrar: &'r mut Registrar<'a>) -> Self {
        Self {
            registrar,
            spawn: None,
        }
    }

    /// `input` with each `defer!` rewritten. `enclosing` is its delimiter: only in braces may
    /// a `defer!` be a statement.
    pub fn rewrite(&mut self, input: TokenStream, enclosing: Delimiter) -> TokenStream {
        let tokens: Vec<TokenTree> = input.into_iter().collect();
        let mut out: Vec<TokenTree> = Vec::with_capacity(tokens.len());
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Ident(ident) if ident == "fn" && is_ident(tokens.get(i + 1)) => {
                    // A nested function item: copy it, body included, as written.
                    while i < tokens.len() {
                        let end = is_brace(&tokens[i]) || is_punct(Some(&tokens[i]), ';');
                        out.push(tokens[i].clone());
                        i += 1;
                        if end {
                            break;
                        }
                    }
                    continue;
                }
                TokenTree::Ident(ident)
                    if is_punct(tokens.get(i + 1), '!')
                        && is_defer_call(&out, ident, self.registrar) =>
                {
                    if let Some(TokenTree::Group(group)) = tokens.get(i + 2) {
                        let statement = enclosing == Delimiter::Brace
                            && starts_statement(&out[..path_start(&out)])
                            && !matches!(
                                tokens.get(i + 3),
                                Some(TokenTree::Punct(p)) if ".?".contains(p.as_char())
                            );
                        let replaced = self.replace(group, ident.span(), statement);
                        out.push(tokens[i].clone());
                        out.push(tokens[i + 1].clone());
                        out.push(TokenTree::Group(replaced));
                        i += 3;
                        continue;
                    }
                }
                TokenTree::Group(group) => {
                    let spawn = match group.delimiter() {
                        Delimiter::Parenthesis => spawn_callee(&out),
                        _ => None,
                    };
                    let outer = match spawn {
                        Some(callee) => self.spawn.replace(callee),
                        None => self.spawn.clone(),
                    };
                    let before = self.registrar.found;
                    let stream = self.rewrite(group.stream(), group.delimiter());
                    self.spawn = outer;
                    // A group without `defer!` is kept as it came, delimiter spans included.
                    if self.registrar.found > before {
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

    /// The `{ .. }` or `( .. )` of one `defer!` becomes `@__after_response <registration>`,
    /// same delimiter (so a statement needs no `;`, as before); in statement position the
    /// handle is discarded.
    fn replace(&mut self, group: &Group, span: Span, statement: bool) -> Group {
        let rejected = self.spawn.as_deref().map(|callee| rejection(callee, span));
        let registration = self.registrar.registration(group.stream(), span, rejected);
        let registration = if statement {
            quote!({ #registration; })
        } else {
            registration
        };
        let mut new = Group::new(group.delimiter(), quote!(@__after_response #registration));
        new.set_span(group.span());
        new
    }
}

/// Why a `defer!` inside `callee(..)` cannot register, and what to do instead.
fn rejection(callee: &str, span: Span) -> syn::Error {
    let message = if callee.ends_with(ON_UPGRADE) {
        format!(
            "`defer!` cannot be used inside `{callee}(..)`: the callback serves the upgraded \
             connection after the `101 Switching Protocols` response has left, too late to \
             register a block. Call `defer!` in the handler's own body, before `on_upgrade` (the \
             block then runs once the 101 response is sent), or do the work at the end of the \
             callback"
        )
    } else {
        format!(
            "`defer!` cannot be used inside `{callee}(..)`: the spawned work may run after the \
             response has left, too late to register a block. Call `defer!` in the handler's own \
             body (it can capture what the task needs), or do the work at the end of the spawned \
             task"
        )
    };
    syn::Error::new(span, message)
}

/// `tokio::spawn`, `task::spawn_blocking`, `tasks.spawn`, `ws.on_upgrade`: the callee of the
/// `( .. )` about to be pushed after `out`, as written, when it is spawn-like.
fn spawn_callee(out: &[TokenTree]) -> Option<String> {
    let Some(TokenTree::Ident(last)) = out.last() else {
        return None;
    };
    if !SPAWNS.iter().any(|spawn| last == spawn) && last != ON_UPGRADE {
        return None;
    }
    let mut path = vec![last.to_string()];
    let mut n = out.len() - 1;
    loop {
        if n >= 3 && is_joint_colon(&out[n - 2]) && is_punct(Some(&out[n - 1]), ':') {
            if let TokenTree::Ident(segment) = &out[n - 3] {
                path.push(format!("{segment}::"));
                n -= 3;
                continue;
            }
        }
        if n >= 1 && is_punct(Some(&out[n - 1]), '.') {
            let receiver = match out.get(n.wrapping_sub(2)) {
                Some(TokenTree::Ident(receiver)) if n >= 2 => receiver.to_string(),
                _ => String::new(),
            };
            path.push(format!("{receiver}."));
        }
        break;
    }
    path.reverse();
    Some(path.concat())
}

/// `true` when the tokens before a `defer!` in braces end a statement (or there are none): it
/// is a statement of its own, not part of an expression (`let h = defer!{..}`, `x =>`).
fn starts_statement(out: &[TokenTree]) -> bool {
    match out.last() {
        None => true,
        Some(TokenTree::Punct(p)) => p.as_char() == ';',
        Some(TokenTree::Group(g)) => match g.delimiter() {
            Delimiter::Brace => true,
            // `#[cfg(..)] defer! { .. }`: an attribute on the statement.
            Delimiter::Bracket => is_punct(out.get(out.len().wrapping_sub(2)), '#'),
            _ => false,
        },
        Some(_) => false,
    }
}

/// Where the path that ends `out` (`after_response::`, `::after_response::`) starts.
fn path_start(out: &[TokenTree]) -> usize {
    let mut n = out.len();
    while n >= 2 && is_joint_colon(&out[n - 2]) && is_punct(Some(&out[n - 1]), ':') {
        n -= 2;
        if n >= 1 && is_ident(out.get(n - 1)) {
            n -= 1;
        }
    }
    n
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

fn is_brace(token: &TokenTree) -> bool {
    matches!(token, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace)
}
