// SPDX-License-Identifier: GPL-2.0-only
/*
 * IO page faults delivered to userspace: fault queues (IOMMUFD_OBJ_FAULT).
 *
 * A device that walks a page table userspace owns (a nested HWPT's) may
 * ask for a page that table does not map, and wait: a page request (PCIe
 * PRI). When the nested HWPT was made with IOMMU_HWPT_FAULT_ID_VALID, such
 * a request goes to the fault queue it names. Userspace read()s it from
 * the queue's file as a struct iommu_hwpt_pgfault, fixes its table (or
 * its guest does), and write()s a struct iommu_hwpt_page_response with
 * the fault's cookie, which goes back to the device through its IOMMU.
 *
 * Vocabulary:
 *  - a *fault* (struct iommufd_fault_req) is one page request that closed
 *    its group (IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE) and waits for an
 *    answer; requests that do not close a group are refused, as no IOMMU
 *    driver of this kernel hands them to a handler;
 *  - *delivering*: a fault on the queue's @deliver list, not read yet;
 *  - *awaiting*: a fault userspace read, in @response under its cookie,
 *    until userspace answers it.
 *
 * 6.1's IOMMU core reports a device's faults to one handler per device
 * (iommu_register_device_fault_handler()), and remembers each fault that
 * needs an answer until iommu_page_response() gives it one. So the
 * handler is per device: registered while the device is attached to a
 * HWPT with a fault queue, and it routes each fault to the queue of the
 * HWPT the device is on at that moment (iommufd_device::fault_hwpt).
 * When the device leaves that HWPT, every fault it made there still on
 * the queue, delivering or awaiting, is answered IOMMUFD_PAGE_RESP_INVALID
 * at once: the device must not wait for an answer that can no longer
 * come, and the core's list must be empty for the handler to go. Faults
 * it makes on its new HWPT are not, even on the same queue. 6.1's core
 * does not say on which domain a fault was made: one made on the new
 * domain before the routing follows it counts as the old HWPT's.
 *
 * Lock order: the IOMMU core's device lock (held around the handler),
 * then iommufd_device::fault_lock, then iommufd_fault::mutex; the core's
 * list lock is taken under iommufd_fault::mutex to answer. The group's
 * lock of device.c is taken before iommufd_device::fault_lock and never
 * under the others. No user page is waited for under iommufd_fault::mutex:
 * a page of read()'s or write()'s buffer may wait on userspace, and the
 * device's detach and its fault handler must not wait with it.
 *
 * The queue's file holds the object and the context's file: a context
 * lives on while a queue file is open, and IOMMU_DESTROY of the queue is
 * EBUSY until the file is closed and no HWPT uses it.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/lockdep.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/iommufd.h>

#include "iommufd_private.h"

/**
 * struct iommufd_fault_req - one fault waiting for userspace's answer
 * @node: entry in iommufd_fault::deliver while delivering
 * @idev: the device that faulted
 * @hwpt: the HWPT @idev was on when it faulted, only to be compared: the
 *        device leaving it answers the fault first, so @hwpt outlives it
 * @prm: the page request
 * @cookie: its key in iommufd_fault::response while awaiting
 */
struct iommufd_fault_req {
	struct list_head node;
	struct iommufd_device *idev;
	struct iommufd_hw_pagetable *hwpt;
	struct iommu_fault_page_request prm;
	u32 cookie;
};

/* The uAPI keeps the IOMMU core's values for these. */
static_assert((int)IOMMUFD_PAGE_RESP_SUCCESS == (int)IOMMU_PAGE_RESP_SUCCESS);
static_assert((int)IOMMUFD_PAGE_RESP_INVALID == (int)IOMMU_PAGE_RESP_INVALID);
static_assert((int)IOMMU_PGFAULT_FLAGS_PASID_VALID ==
	      (int)IOMMU_FAULT_PAGE_REQUEST_PASID_VALID);
static_assert((int)IOMMU_PGFAULT_FLAGS_LAST_PAGE ==
	      (int)IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE);
static_assert((int)IOMMU_PGFAULT_PERM_READ == (int)IOMMU_FAULT_PERM_READ);
static_assert((int)IOMMU_PGFAULT_PERM_WRITE == (int)IOMMU_FAULT_PERM_WRITE);
static_assert((int)IOMMU_PGFAULT_PERM_EXEC == (int)IOMMU_FAULT_PERM_EXEC);
static_assert((int)IOMMU_PGFAULT_PERM_PRIV == (int)IOMMU_FAULT_PERM_PRIV);

/* Send @code for @req to its device and forget @req. */
static void iommufd_fault_answer(struct iommufd_fault *fault,
				 struct iommufd_fault_req *req, u32 code)
{
	struct iommu_page_response msg = {
		.argsz = sizeof(msg),
		.version = IOMMU_PAGE_RESP_VERSION_1,
		.pasid = req->prm.pasid,
		.grpid = req->prm.grpid,
		.code = code,
	};

	lockdep_assert_held(&fault->mutex);
	if (req->prm.flags & IOMMU_FAULT_PAGE_REQUEST_PASID_VALID)
		msg.flags = IOMMU_PAGE_RESP_PASID_VALID;
	/* The core matched it when it was reported: it is still pending. */
	WARN_ON_ONCE(iommu_page_response(req->idev->dev, &msg));
	kfree(req);
}

/*
 * The IOMMU core's fault handler of a device attached to a HWPT with a
 * fault queue: queue the fault there. An error makes the core forget the
 * fault, and its reporter answer it.
 */
static int iommufd_fault_handler(struct iommu_fault *evt, void *data)
{
	struct iommufd_device *idev = data;
	struct iommufd_fault_req *req;
	struct iommufd_fault *fault;
	int rc = 0;

	if (evt->type != IOMMU_FAULT_PAGE_REQ ||
	    !(evt->prm.flags & IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE))
		return -EOPNOTSUPP;

	mutex_lock(&idev->fault_lock);
	/* Between a detach and the handler going, faults are refused. */
	if (!idev->fault_hwpt) {
		rc = -ENODEV;
		goto out_unlock;
	}
	fault = idev->fault_hwpt->fault;
	req = kzalloc(sizeof(*req), GFP_KERNEL_ACCOUNT);
	if (!req) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	req->idev = idev;
	req->hwpt = idev->fault_hwpt;
	req->prm = evt->prm;
	mutex_lock(&fault->mutex);
	list_add_tail(&req->node, &fault->deliver);
	mutex_unlock(&fault->mutex);
	wake_up_interruptible(&fault->wait);
out_unlock:
	mutex_unlock(&idev->fault_lock);
	return rc;
}

/**
 * iommufd_fault_attach_prepare() - before @idev moves onto @hwpt
 * @idev: the device
 * @hwpt: the HWPT it moves onto
 *
 * Registers the device's fault handler if @hwpt has a fault queue and the
 * device had none; faults are still routed as before until
 * iommufd_fault_attach_commit().
 *
 * Context: caller holds the device's group lock.
 * Return: 0, -EBUSY if another handler is registered for the device, or
 * -ENOMEM.
 */
int iommufd_fault_attach_prepare(struct iommufd_device *idev,
				 struct iommufd_hw_pagetable *hwpt)
{
	int rc;

	lockdep_assert_held(&idev->igroup->lock);
	if (!hwpt->fault || idev->fault_handler)
		return 0;
	rc = iommu_register_device_fault_handler(idev->dev,
						 iommufd_fault_handler, idev);
	if (rc)
		return rc;
	idev->fault_handler = true;
	return 0;
}

/*
 * Answer IOMMUFD_PAGE_RESP_INVALID to every fault @idev made on @hwpt. Not
 * to those it made since on another HWPT with the same queue.
 */
static void iommufd_fault_answer_device(struct iommufd_device *idev,
					struct iommufd_hw_pagetable *hwpt)
{
	struct iommufd_fault *fault = hwpt->fault;
	struct iommufd_fault_req *req, *next;
	unsigned long index;

	mutex_lock(&fault->mutex);
	list_for_each_entry_safe(req, next, &fault->deliver, node) {
		if (req->idev != idev || req->hwpt != hwpt)
			continue;
		list_del(&req->node);
		iommufd_fault_answer(fault, req, IOMMUFD_PAGE_RESP_INVALID);
	}
	xa_for_each(&fault->response, index, req) {
		if (req->idev != idev || req->hwpt != hwpt)
			continue;
		xa_erase(&fault->response, index);
		iommufd_fault_answer(fault, req, IOMMUFD_PAGE_RESP_INVALID);
	}
	mutex_unlock(&fault->mutex);
}

/**
 * iommufd_fault_attach_commit() - @idev is now on @hwpt, or detached
 * @idev: the device
 * @hwpt: the HWPT it is on, or NULL once detached
 *
 * Routes the device's faults to @hwpt's queue, or refuses them if it has
 * none; answers the faults the device left on its previous HWPT's queue;
 * and lets the handler go when it is not needed any more.
 *
 * Context: caller holds the device's group lock.
 */
void iommufd_fault_attach_commit(struct iommufd_device *idev,
				 struct iommufd_hw_pagetable *hwpt)
{
	struct iommufd_hw_pagetable *old;

	lockdep_assert_held(&idev->igroup->lock);
	mutex_lock(&idev->fault_lock);
	old = idev->fault_hwpt;
	idev->fault_hwpt = hwpt && hwpt->fault ? hwpt : NULL;
	mutex_unlock(&idev->fault_lock);
	/* A handler that ran before queued its fault there: answer it. */
	if (old && old != hwpt)
		iommufd_fault_answer_device(idev, old);
	if (!idev->fault_hwpt && idev->fault_handler) {
		/* Nothing of the device is pending any more. */
		WARN_ON(iommu_unregister_device_fault_handler(idev->dev));
		idev->fault_handler = false;
	}
}

/**
 * iommufd_fault_attach_abort() - @idev did not move after all
 * @idev: the device
 *
 * Undoes what iommufd_fault_attach_prepare() did.
 *
 * Context: caller holds the device's group lock.
 */
void iommufd_fault_attach_abort(struct iommufd_device *idev)
{
	lockdep_assert_held(&idev->igroup->lock);
	/* Registered by the prepare only if no fault was routed yet. */
	if (idev->fault_handler && !idev->fault_hwpt) {
		WARN_ON(iommu_unregister_device_fault_handler(idev->dev));
		idev->fault_handler = false;
	}
}

/*
 * Write the message of @req to userspace at @buf, without waiting for the
 * page: the caller holds the queue's mutex, which the device's detach and
 * the fault handler wait for, and a page of @buf may be one that waits on
 * userspace (a userfaultfd, FUSE). -EFAULT if the page was not there.
 */
static int iommufd_fault_copy_out(struct iommufd_fault *fault,
				  struct iommufd_fault_req *req,
				  char __user *buf)
{
	struct iommu_hwpt_pgfault msg = {
		.flags = req->prm.flags & (IOMMU_PGFAULT_FLAGS_PASID_VALID |
					   IOMMU_PGFAULT_FLAGS_LAST_PAGE),
		.dev_id = req->idev->obj.id,
		.pasid = req->prm.pasid,
		.grpid = req->prm.grpid,
		.perm = req->prm.perm & (IOMMU_PGFAULT_PERM_READ |
					 IOMMU_PGFAULT_PERM_WRITE |
					 IOMMU_PGFAULT_PERM_EXEC |
					 IOMMU_PGFAULT_PERM_PRIV),
		.addr = req->prm.addr,
		.cookie = req->cookie,
	};

	lockdep_assert_held(&fault->mutex);
	return copy_to_user_nofault(buf, &msg, sizeof(msg)) ? -EFAULT : 0;
}

/*
 * read(): the delivering faults, oldest first, as many as fit in @count,
 * a multiple of the message's size. Returns the bytes read, 0 if there
 * is no fault (it does not wait: poll() does) or @count is 0, or an error
 * if the first could not be read: -EFAULT, -ENOMEM, or -EINTR if a fatal
 * signal came while its page was brought in.
 */
static ssize_t iommufd_fault_read(struct file *file, char __user *buf,
				  size_t count, loff_t *ppos)
{
	const size_t size = sizeof(struct iommu_hwpt_pgfault);
	struct iommufd_fault *fault = file->private_data;
	struct iommufd_fault_req *req;
	size_t done = 0;
	int rc = 0;

	if (count % size)
		return -ESPIPE;

	mutex_lock(&fault->mutex);
	while (done != count &&
	       (req = list_first_entry_or_null(&fault->deliver,
					       struct iommufd_fault_req,
					       node))) {
		rc = xa_alloc_cyclic(&fault->response, &req->cookie, req,
				     xa_limit_32b, &fault->next_cookie,
				     GFP_KERNEL_ACCOUNT);
		if (rc < 0)
			break;
		/* 1: the cookies went round, which is fine. */
		rc = 0;
		rc = iommufd_fault_copy_out(fault, req, buf + done);
		if (rc) {
			/* Still delivering: it is read again below. */
			xa_erase(&fault->response, req->cookie);
			/*
			 * Bring the page in without the mutex, then look
			 * again: the fault may be answered meanwhile.
			 */
			mutex_unlock(&fault->mutex);
			if (fault_in_safe_writeable(buf + done, size))
				return done ? done : -EFAULT;
			if (fatal_signal_pending(current))
				return done ? done : -EINTR;
			rc = 0;
			mutex_lock(&fault->mutex);
			continue;
		}
		list_del(&req->node);
		done += size;
	}
	mutex_unlock(&fault->mutex);
	return done ? done : rc;
}

/*
 * write(): answers, each a struct iommu_hwpt_page_response, carried out in
 * order. Returns the bytes of the answers sent, or the error of the first
 * if none was: -EINVAL for an unknown code or a cookie of no awaiting
 * fault, -EFAULT. Each answer is read before the queue's mutex is taken:
 * the read may wait on userspace.
 */
static ssize_t iommufd_fault_write(struct file *file, const char __user *buf,
				   size_t count, loff_t *ppos)
{
	const size_t size = sizeof(struct iommu_hwpt_page_response);
	struct iommufd_fault *fault = file->private_data;
	struct iommu_hwpt_page_response answer;
	struct iommufd_fault_req *req;
	size_t done = 0;
	int rc = 0;

	if (count % size)
		return -ESPIPE;

	while (done < count) {
		if (copy_from_user(&answer, buf + done, size)) {
			rc = -EFAULT;
			break;
		}
		if (answer.code != IOMMUFD_PAGE_RESP_SUCCESS &&
		    answer.code != IOMMUFD_PAGE_RESP_INVALID) {
			rc = -EINVAL;
			break;
		}
		mutex_lock(&fault->mutex);
		req = xa_erase(&fault->response, answer.cookie);
		if (req)
			iommufd_fault_answer(fault, req, answer.code);
		mutex_unlock(&fault->mutex);
		if (!req) {
			rc = -EINVAL;
			break;
		}
		done += size;
	}
	return done ? done : rc;
}

static __poll_t iommufd_fault_poll(struct file *file,
				   struct poll_table_struct *wait)
{
	struct iommufd_fault *fault = file->private_data;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &fault->wait, wait);
	mutex_lock(&fault->mutex);
	if (!list_empty(&fault->deliver))
		mask |= EPOLLIN | EPOLLRDNORM;
	mutex_unlock(&fault->mutex);
	return mask;
}

static int iommufd_fault_release(struct inode *inode, struct file *file)
{
	struct iommufd_fault *fault = file->private_data;
	struct iommufd_ctx *ictx;

	/* A file made by a failed IOMMU_FAULT_QUEUE_ALLOC holds nothing. */
	if (!fault)
		return 0;
	/* The object may be freed once its reference is gone. */
	ictx = fault->ictx;
	iommufd_put_object(&fault->obj);
	iommufd_ctx_put(ictx);
	return 0;
}

static const struct file_operations iommufd_fault_fops = {
	.owner = THIS_MODULE,
	.read = iommufd_fault_read,
	.write = iommufd_fault_write,
	.poll = iommufd_fault_poll,
	.release = iommufd_fault_release,
	.llseek = no_llseek,
};

/**
 * iommufd_fault_alloc() - IOMMU_FAULT_QUEUE_ALLOC
 * @ucmd: the ioctl, with a struct iommu_fault_alloc
 *
 * Return: 0 or the errno the uAPI header lists.
 */
int iommufd_fault_alloc(struct iommufd_ucmd *ucmd)
{
	struct iommu_fault_alloc *cmd = ucmd->args;
	struct iommufd_fault *fault;
	struct file *file;
	int fd, rc;

	if (cmd->flags)
		return -EOPNOTSUPP;

	fault = iommufd_object_alloc(ucmd->ictx, struct iommufd_fault,
				     IOMMUFD_OBJ_FAULT);
	if (IS_ERR(fault))
		return PTR_ERR(fault);
	fault->ictx = ucmd->ictx;
	mutex_init(&fault->mutex);
	INIT_LIST_HEAD(&fault->deliver);
	xa_init_flags(&fault->response, XA_FLAGS_ALLOC1 | XA_FLAGS_ACCOUNT);
	init_waitqueue_head(&fault->wait);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		rc = fd;
		goto err_unwind;
	}
	file = anon_inode_getfile("[iommufd-pgfault]", &iommufd_fault_fops,
				  fault, O_RDWR);
	if (IS_ERR(file)) {
		rc = PTR_ERR(file);
		goto err_put_fd;
	}
	/* A stream: no offsets, pread() and pwrite() are ESPIPE. */
	file->f_mode &= ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE);
	file->f_mode |= FMODE_STREAM;

	cmd->out_fault_id = fault->obj.id;
	cmd->out_fault_fd = fd;
	rc = iommufd_ucmd_reply(ucmd, sizeof(*cmd));
	if (rc) {
		/* The release runs later; it must not find the object. */
		file->private_data = NULL;
		fput(file);
		goto err_put_fd;
	}
	/* The file's references, dropped by its release. */
	refcount_inc(&fault->obj.users);
	get_file(ucmd->ictx->file);
	iommufd_object_publish(ucmd->ictx, &fault->obj);
	fd_install(fd, file);
	return 0;

err_put_fd:
	put_unused_fd(fd);
err_unwind:
	iommufd_object_unwind(ucmd->ictx, &fault->obj);
	return rc;
}

/**
 * iommufd_fault_destroy() - release a fault queue nothing uses any more
 * @obj: the queue's object header
 *
 * Every fault went with the detach of its device, which its HWPT, and so
 * the queue, outlived.
 */
void iommufd_fault_destroy(struct iommufd_object *obj)
{
	struct iommufd_fault *fault =
		container_of(obj, struct iommufd_fault, obj);

	WARN_ON(!list_empty(&fault->deliver) || !xa_empty(&fault->response));
	xa_destroy(&fault->response);
	mutex_destroy(&fault->mutex);
}

/**
 * iommufd_fault_show() - a fault queue's fdinfo fields
 * @m: the fdinfo file
 * @obj: the queue, referenced
 *
 * Context: takes the queue's mutex.
 */
void iommufd_fault_show(struct seq_file *m, struct iommufd_object *obj)
{
	struct iommufd_fault *fault =
		container_of(obj, struct iommufd_fault, obj);
	struct iommufd_fault_req *req;
	unsigned int delivering = 0, awaiting = 0;
	unsigned long index;

	mutex_lock(&fault->mutex);
	list_for_each_entry(req, &fault->deliver, node)
		delivering++;
	xa_for_each(&fault->response, index, req)
		awaiting++;
	mutex_unlock(&fault->mutex);
	seq_printf(m, " delivering=%u awaiting=%u", delivering, awaiting);
}

/**
 * iommufd_fault_lookup() - the fault queue an ID names, held
 * @ucmd: the ioctl
 * @id: the ID
 *
 * Return: the queue, to be released with iommufd_put_object(), or
 * ERR_PTR(-ENOENT).
 */
struct iommufd_fault *iommufd_fault_lookup(struct iommufd_ucmd *ucmd, u32 id)
{
	struct iommufd_object *obj;

	obj = iommufd_object_lookup(ucmd->ictx, id, IOMMUFD_OBJ_FAULT);
	if (IS_ERR(obj)) {
		iommufd_ucmd_fail(ucmd, PTR_ERR(obj),
				  "no fault queue with ID %u", id);
		return ERR_CAST(obj);
	}
	return container_of(obj, struct iommufd_fault, obj);
}
