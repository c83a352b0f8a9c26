//! `defer!` in every position: statement, expression (the handle), tail of a block, match arm,
//! loop, closure, async block, async closure, `join!`/`select!` and other macros' input, behind
//! `#[cfg]`, with a timeout, cancelled.
use std::time::Duration;

use after_response::{after_response, defer};
use axum::extract::Path;
use axum::routing::get;
use axum::Router;

use crate::support::{Check, Marks};

pub static MARKS: Marks = Marks::new();

#[after_response]
async fn statement() -> &'static str {
    defer! { MARKS.mark(); }
    defer! { MARKS.mark(); };
    defer!(|_outcome| { MARKS.mark(); });
    "statement"
}

#[after_response]
async fn expression() -> &'static str {
    let kept = defer! { MARKS.mark(); };
    let cancelled = defer!(|_outcome| MARKS.mark());
    cancelled.cancel();
    defer! { MARKS.mark(); }.set_timeout(Duration::from_secs(30));
    kept.set_timeout(Duration::from_secs(30));
    "expression"
}

#[after_response]
async fn tail_and_arms(Path(n): Path<u32>) -> &'static str {
    if n > 0 {
        defer! { MARKS.mark(); }
    } else {
        defer!(|_outcome| MARKS.mark());
    }
    match n {
        0 => drop(defer! { MARKS.mark(); }),
        1 => defer!(|_outcome| MARKS.mark()).cancel(),
        _ => {}
    }
    "arms"
}

#[after_response]
async fn in_loop() -> &'static str {
    for _ in 0..3 {
        defer! { MARKS.mark(); }
    }
    let mut left = 2;
    while left > 0 {
        left -= 1;
        defer!(|_outcome| MARKS.mark());
    }
    "loop"
}

#[after_response]
async fn in_closure() -> &'static str {
    let register = |times: usize| {
        for _ in 0..times {
            defer! { MARKS.mark(); }
        }
    };
    register(2);
    let handle = || defer! { MARKS.mark(); };
    handle().cancel();
    "closure"
}

#[after_response]
async fn in_async_block() -> &'static str {
    async {
        defer! { MARKS.mark(); }
    }
    .await;
    let nested = async move {
        tokio::task::yield_now().await;
        defer!(|_outcome| MARKS.mark());
        "async block"
    };
    nested.await
}

#[after_response]
async fn in_async_closure() -> &'static str {
    let register = async |times: usize| {
        for _ in 0..times {
            tokio::task::yield_now().await;
            defer! { MARKS.mark(); }
        }
    };
    register(2).await;
    "async closure"
}

#[after_response]
async fn in_join_and_select() -> &'static str {
    let ((), ()) = tokio::join!(
        async {
            defer! { MARKS.mark(); }
        },
        async {
            defer!(|_outcome| MARKS.mark());
        },
    );
    let (sender, receiver) = tokio::sync::oneshot::channel::<u8>();
    sender.send(1).expect("the receiver is here");
    tokio::select! {
        Ok(_) = receiver => {
            defer! { MARKS.mark(); }
        }
        () = std::future::pending::<()>() => {
            defer! { MARKS.mark(); }
        }
    }
    "join and select"
}

#[after_response]
async fn in_other_macros() -> String {
    let mut handles = vec![defer! { MARKS.mark(); }, defer! { MARKS.mark(); }];
    handles.pop().expect("two handles").cancel();
    let text = format!("{:?}", defer! { MARKS.mark(); });
    assert!(text.starts_with("DeferHandle"));
    String::from("macros")
}

#[after_response]
async fn behind_cfg() -> &'static str {
    #[cfg(test)]
    defer! { MARKS.mark(); }
    #[cfg(not(test))]
    defer! { MARKS.mark(); }
    "cfg"
}

#[after_response]
async fn with_timeouts() -> &'static str {
    defer!(timeout = Duration::from_secs(30) => {
        MARKS.mark();
    });
    defer!(timeout = Duration::from_secs(30) => |outcome| {
        assert!(outcome.is_completed());
        MARKS.mark();
    });
    let timeout = 1;
    defer! {
        let _ = timeout;
        MARKS.mark();
    }
    "timeouts"
}

#[after_response]
async fn block_forms() -> &'static str {
    // Blocks that start with an async block (not the `|outcome|` form), and the explicit path.
    let work = async { MARKS.mark() };
    defer! {
        async move {
            tokio::task::yield_now().await;
            work.await;
        }
        .await;
    }
    let later = async { MARKS.mark() };
    defer! {
        async move {
            tokio::task::yield_now().await;
        }
        .await;
        later.await;
    }
    after_response::defer! { MARKS.mark(); }
    "forms"
}

pub fn router() -> Router {
    Router::new()
        .route("/statement", get(statement))
        .route("/expression", get(expression))
        .route("/arms/{n}", get(tail_and_arms))
        .route("/loop", get(in_loop))
        .route("/closure", get(in_closure))
        .route("/async_block", get(in_async_block))
        .route("/async_closure", get(in_async_closure))
        .route("/join", get(in_join_and_select))
        .route("/macros", get(in_other_macros))
        .route("/cfg", get(behind_cfg))
        .route("/timeouts", get(with_timeouts))
        .route("/forms", get(block_forms))
}

pub fn checks() -> Vec<Check> {
    vec![
        Check::get("/statement").expect(200, "statement", 3),
        Check::get("/expression").expect(200, "expression", 2),
        Check::get("/arms/0").expect(200, "arms", 2),
        Check::get("/arms/1").expect(200, "arms", 1),
        Check::get("/arms/2").expect(200, "arms", 1),
        Check::get("/loop").expect(200, "loop", 5),
        Check::get("/closure").expect(200, "closure", 2),
        Check::get("/async_block").expect(200, "async block", 2),
        Check::get("/async_closure").expect(200, "async closure", 2),
        Check::get("/join").expect(200, "join and select", 3),
        Check::get("/macros").expect(200, "macros", 2),
        Check::get("/cfg").expect(200, "cfg", 1),
        Check::get("/timeouts").expect(200, "timeouts", 3),
        Check::get("/forms").expect(200, "forms", 3),
    ]
}
