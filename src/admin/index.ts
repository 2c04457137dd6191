export {
  AdminHttpError,
  AdminServer,
  DEFAULT_AUTH_LOG_PER_MINUTE,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_MAX_BODY_BYTES,
  MUTATING_DISABLED_MESSAGE,
  registerReadyz,
  type AdminHandler,
  type AdminOptions,
  type AdminRequest,
  type AdminResponse,
} from './server.js';
