//! Saved value-score models and the dashboard's population figures, on both backends.

use patron_store::{backend_tests, Store};

async fn score_models_save_and_read_back_newest_first(store: Store) {
    assert!(store.current_score_model().await.unwrap().is_none());
    let a = store.save_score_model("a = 1", "web", None).await.unwrap();
    let b = store
        .save_score_model("b = 2", "alice", Some("calibrated"))
        .await
        .unwrap();
    assert!(b.id > a.id);
    let cur = store.current_score_model().await.unwrap().unwrap();
    assert_eq!(cur, b);
    assert_eq!(cur.note.as_deref(), Some("calibrated"));
    let hist = store.score_model_history(10).await.unwrap();
    assert_eq!(hist.iter().map(|m| m.id).collect::<Vec<_>>(), [b.id, a.id]);
}

async fn empty_population_figures(store: Store) {
    assert_eq!(store.clv_histogram(0.0, 10.0, 3).await.unwrap(), [0, 0, 0]);
    assert_eq!(store.referrer_count().await.unwrap(), 0);
    assert!(store.value_classes().await.unwrap().is_empty());
}

backend_tests!(
    score_models_save_and_read_back_newest_first,
    empty_population_figures
);
