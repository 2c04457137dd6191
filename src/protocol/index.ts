export { Cmd, CMD_NAMES, Request, isMeta, isRetrieval, isStorage } from './request.js';
export { RequestParser, type ParserSink, type ParserLimits, MAX_LINE_WITHOUT_NEWLINE } from './parser.js';
export { ReplyParser, ReplyKind, type ReplySink, isPrefix, tokenNumber, countValueBlocks } from './reply-parser.js';
export { Writer } from './writer.js';
export { writeKeyed, writeRetrieval, writeFlushAll, replyKindOf } from './serializer.js';
export { R, clientError } from './replies.js';
export { KEY_MAX_LENGTH } from './commands.js';
export { decodeBase64Key } from './meta.js';
export { placeValueBlocks } from './value-blocks.js';
