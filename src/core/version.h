/* version.h - the one place the version number lives. */
#ifndef Q_VERSION_H
#define Q_VERSION_H
#define QUARRY_VERSION "0.1.0"
#endif
