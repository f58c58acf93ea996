"""Result records, their statistics, the store, and regression detection."""
