/** Per-volume isolation: gates, deadlines, health. See docs/isolation.md. */
export { VolumeError, isIoError, isUnavailable, errorCode } from './errors';
export { Volume, type VolumeObserver, type VolumeOp, type VolumeState, type VolumeReport, type GateLimits, type RunOptions } from './volume';
export { VolumeRegistry, installVolumes, currentVolumes, type VolumeSettings, type VolumeEvent } from './registry';
export { mountsForRoot, readMountinfo, parseMountinfo, makedev, type MountPoint } from './mounts';
export { prefetchBody, type Prefetching } from './prefetch';
export { requestBudget, budgetLeftMs, type RequestBudget } from './deadline';
