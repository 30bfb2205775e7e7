// One-shot (service mongo-init, run by mongosh against mongo-primary): initiates the replica set rs0
// and creates or updates the two application users. Every step checks first, so a second
// `docker compose up` changes nothing (or only applies changed passwords from .env).

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// The root user was created by the image's entrypoint on mongo-primary's first start.
db.getSiblingDB('admin').auth(required('MONGO_ROOT_USER'), required('MONGO_ROOT_PASSWORD'));

const members = [
  { _id: 0, host: 'mongo-primary:27017', priority: 2 },
  { _id: 1, host: 'mongo-secondary:27018', priority: 1 },
];

try {
  rs.status();
  print('mongo-init: replica set rs0 is already initiated');
} catch (error) {
  if (error.codeName !== 'NotYetInitialized') throw error;
  rs.initiate({ _id: 'rs0', members });
  print('mongo-init: replica set rs0 initiated');
}

// Users can only be written on the primary; right after rs.initiate the election takes a few seconds.
for (let waited = 0; !db.hello().isWritablePrimary; waited++) {
  if (waited >= 60) throw new Error('mongo-primary did not become primary within 60 s');
  sleep(1000);
}

// Users live in `admin` (Tinode's auth_source default); their roles name the tinode database.
function ensureUser(user, pwd, roles) {
  const admin = db.getSiblingDB('admin');
  if (admin.getUser(user)) {
    admin.updateUser(user, { pwd, roles });
    print(`mongo-init: user ${user} updated`);
  } else {
    admin.createUser({ user, pwd, roles });
    print(`mongo-init: user ${user} created`);
  }
}

// Tinode: reads and writes its database, creates its indexes (dbAdmin, also for tinode-db --reset),
// and reads server statistics (clusterMonitor) for its own status page.
ensureUser(required('MONGO_TINODE_USER'), required('MONGO_TINODE_PASSWORD'), [
  { role: 'readWrite', db: 'tinode' },
  { role: 'dbAdmin', db: 'tinode' },
  { role: 'clusterMonitor', db: 'admin' },
]);
// The Gateway's read-only view of Tinode's data (history from a secondary; see the README).
ensureUser(required('MONGO_READER_USER'), required('MONGO_READER_PASSWORD'), [{ role: 'read', db: 'tinode' }]);
