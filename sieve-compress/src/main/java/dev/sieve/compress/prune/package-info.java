/**
 * Pruning of one linear layer to a {@link dev.sieve.compress.prune.SparsityPattern} (unstructured
 * fraction, or N:M along the input dimension): {@link dev.sieve.compress.prune.MagnitudePruner}
 * (|w|, per layer), {@link dev.sieve.compress.prune.WandaPruner} (|w|·‖x‖, per output row),
 * {@link dev.sieve.compress.prune.SparseGptPruner} (OBS updates with the Hessian, masks per
 * 128-column block). {@link dev.sieve.compress.prune.OwlAllocator} spreads a target sparsity
 * over layers by their outlier ratios. Results are {@link dev.sieve.compress.prune.Pruned}.
 */
package dev.sieve.compress.prune;
