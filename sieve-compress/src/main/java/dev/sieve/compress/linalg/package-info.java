/**
 * Dense linear algebra on row-major {@code double[]} arrays, written here rather than taken from
 * a library: the algorithms need only a handful of routines, in double precision, with exact
 * control of damping. {@link dev.sieve.compress.linalg.Cholesky} factors (plain and damped),
 * inverts triangular factors and builds GPTQ's upper factor of H⁻¹;
 * {@link dev.sieve.compress.linalg.Svd} is a one-sided Jacobi thin SVD;
 * {@link dev.sieve.compress.linalg.Matrices} holds products, transposes and the Hessian-form
 * output error tr(ΔW·H·ΔWᵀ); {@link dev.sieve.compress.linalg.Selection} picks exact-count
 * smallest/largest sets for masks.
 */
package dev.sieve.compress.linalg;
