"""Stage 1 of the optimizer: the inputs. Part catalogs, problem files, regulatory limits and price models, validated at load time."""
