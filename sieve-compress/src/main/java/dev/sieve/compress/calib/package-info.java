/**
 * Calibration statistics: {@link dev.sieve.compress.calib.LayerStatistics} accumulates, for one
 * linear layer, H = Σ xᵀx, Σ x², Σ |x| per input channel and the token count from activation
 * rows captured during the forward pass. Every layer-level algorithm reads its data from here.
 */
package dev.sieve.compress.calib;
