//! What a login costs: argon2id verifications per second at a cost, on one thread and on
//! every core. Run in release mode:
//!
//! ```sh
//! cargo run --release -p oxbase-access --example password_cost [MEMORY_KIB ITERATIONS PARALLELISM]
//! ```

use std::time::{Duration, Instant};

use oxbase_access::identity::{PasswordCost, Passwords};

fn main() {
    let arguments: Vec<u32> = std::env::args().skip(1).map(|argument| argument.parse().expect("a number")).collect();
    let cost = match arguments.as_slice() {
        [] => PasswordCost::MINIMUM,
        [memory, iterations, parallelism] => PasswordCost::new(*memory, *iterations, *parallelism).expect("a cost"),
        _ => panic!("give MEMORY_KIB ITERATIONS PARALLELISM, or nothing for OWASP's minimum"),
    };
    let passwords = Passwords::new(cost).expect("a hasher");
    let hash = passwords.hash_new("correct horse battery staple").expect("a hash");
    let per_second = |threads: usize| {
        let run_for = Duration::from_secs(3);
        let started = Instant::now();
        let verified: usize = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut count = 0;
                        while started.elapsed() < run_for {
                            assert!(passwords.verify("correct horse battery staple", &hash).unwrap().is_some());
                            count += 1;
                        }
                        count
                    })
                })
                .collect();
            workers.into_iter().map(|worker| worker.join().unwrap()).sum()
        });
        verified as f64 / started.elapsed().as_secs_f64()
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let one = per_second(1);
    let all = per_second(cores);
    println!(
        "argon2id m={} KiB t={} p={}: {one:.1} verifications/s on 1 thread ({:.1} ms each), {all:.1}/s on {cores} threads",
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        1000.0 / one
    );
}
