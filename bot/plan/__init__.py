"""Plans: findings turned into ordered, frozen, reviewable steps (the executor lives in bot/execute/)."""
